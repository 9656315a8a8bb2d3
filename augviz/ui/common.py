"""Small Streamlit helpers shared by the pages."""

from __future__ import annotations

import re
import threading

import streamlit as st
import torch
from streamlit.navigation.page import StreamlitPage

from augviz import images, memory

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:/@&=%])")


def md_escape(text: str) -> str:
    """Text shown verbatim where Streamlit renders Markdown (captions, labels, messages).

    Besides Markdown's own characters, ``:``, ``/``, ``@``, ``&``, ``=`` and ``%`` are escaped: an escape splits
    ``http://…``, ``www.…`` and ``a@b`` so that nothing a user typed becomes a live link."""
    return _MARKDOWN.sub(r"\\\1", text)


def md_lines(text: str) -> str:
    """Escaped text whose newlines survive Markdown."""
    return "  \n".join(md_escape(line) for line in text.split("\n"))


@st.cache_resource(show_spinner=False)
def builtin_tensor(name: str) -> torch.Tensor:
    """A built-in sample as C×H×W float, made once per server."""
    return images.to_tensor(images.builtin(name))


ICON = "🧩"  # an emoji: Streamlit draws it as an inline picture, where a ":material/…" icon is fetched from a font host
PAGES = (("pages/explore.py", "Explore"), ("pages/train.py", "Train"), ("pages/runs.py", "Runs"),
         ("pages/gradients.py", "Gradients"))  # (file, title); the first is the default page
_inside = threading.local()  # per script thread: is this run inside app.py's navigation?


def setup() -> None:
    """What every run needs before anything is drawn: the page settings and torch's threads (idempotent)."""
    # One thread per preview: sessions already run side by side in the server's threads, and on a busy machine an
    # intra-op parallel region waits for its slowest thread (docs/performance.md, "In the browser").
    torch.set_num_threads(1)
    # Each script run is a thread of its own: without this, glibc's per-thread heaps made each viewer cost MBs.
    memory.share_arenas()
    st.set_page_config(page_title="augviz", page_icon=ICON, layout="wide")


def navigation() -> StreamlitPage:
    """The app's pages, declared with Streamlit's navigation (from ``app.py``)."""
    # No page icons: material icons come from a font host, and emoji need a font many machines lack.
    pages = [st.Page(path, title=title, default=k == 0) for k, (path, title) in enumerate(PAGES)]
    return st.navigation(pages)


def inside_app() -> bool:
    return getattr(_inside, "app", False)


def set_inside_app(value: bool) -> None:
    _inside.app = value
