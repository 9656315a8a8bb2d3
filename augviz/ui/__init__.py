"""Streamlit helpers for the pages. The only part of augviz that imports Streamlit; nothing in augviz imports it."""
