"""Small Streamlit helpers shared by the pages."""

from __future__ import annotations

import gc
import re

import streamlit as st
import torch

from augviz import images

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def md_escape(text: str) -> str:
    """Text shown verbatim where Streamlit renders Markdown (captions, labels, messages)."""
    return _MARKDOWN.sub(r"\\\1", text)


def md_lines(text: str) -> str:
    """Escaped text whose newlines survive Markdown."""
    return "  \n".join(md_escape(line) for line in text.split("\n"))


@st.cache_resource(show_spinner=False)
def builtin_tensor(name: str) -> torch.Tensor:
    """A built-in sample as C×H×W float, made once per server."""
    return images.to_tensor(images.builtin(name))


def through_app() -> None:
    """Make sure a page runs inside ``app.py``'s navigation.

    Streamlit treats an app with a ``pages/`` folder as an old-style multipage app until its entry point first
    calls ``st.navigation``; a deep link opened first after the server starts would run the page file alone,
    without the app's layout and page names. Turn that mode off and run again, through ``app.py``.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        # Once per session: a rerun drops the widget event that started this run, and AppTest puts the old
        # mode back before every run, so rerunning each time would swallow every click there.
        if not st.session_state.get("_through_app"):
            st.session_state["_through_app"] = True
            st.rerun()


_imports_frozen = False


def freeze_imports() -> None:
    """Once per server, after the first run: hide the objects alive now from the garbage collector.

    Streamlit runs a full collection after every script run, and with torch, plotly and Streamlit loaded a full
    collection walks some 220,000 objects: about 110 ms, holding the GIL while the server should be sending the
    page and its images. The libraries' objects live as long as the server; frozen, they are never walked again,
    and what the sessions allocate is still collected as before.
    """
    global _imports_frozen
    if not _imports_frozen:
        _imports_frozen = True
        gc.collect()
        gc.freeze()
