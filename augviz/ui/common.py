"""Small Streamlit helpers shared by the pages."""

from __future__ import annotations

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


@st.cache_resource(show_spinner=False)
def builtin_pool() -> torch.Tensor:
    """Every built-in sample, the partners mixing steps draw from in the preview."""
    return torch.stack([builtin_tensor(n) for n in images.BUILTIN])
