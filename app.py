"""augviz: the entry point. `streamlit run app.py` serves every page from here."""

from augviz.ui.state import run_app

run_app()
