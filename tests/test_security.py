"""Security settings and rules that hold across the code: no HTML from users, no pickle, deliberate server config."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).parents[1]
SOURCES = [p for d in ("augviz", "pages") for p in (ROOT / d).rglob("*.py")] + [ROOT / "app.py"]


def test_no_page_renders_html():
    offenders = [str(p) for p in SOURCES if re.search(r"unsafe_allow_html\s*=\s*True|st\.html\(", p.read_text())]
    assert offenders == []


def test_nothing_unpickles():
    for p in SOURCES:
        text = p.read_text()
        assert "import pickle" not in text and "pickle.load" not in text, p
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{p}: {call}"


def test_server_settings_are_deliberate():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == 20
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["server"]["fileWatcherType"] == "none"
    assert cfg["browser"]["gatherUsageStats"] is False


@pytest.mark.parametrize("name", ["<img src=x onerror=alert(1)>", "**bold** [link](javascript:alert(1))"])
def test_user_text_in_messages_is_shown_as_text(name):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.session_state["export_open"] = True  # the import panel is drawn when its panel is open
    at.run()
    at.text_area(key="import_text").input('{"version": 1, "steps": [{"transform": "' + name + '"}]}')
    at.button(key="import_load").click().run()
    shown = at.error[0].value
    assert "<img" not in shown.replace("\\<img", "")  # escaped: Markdown cannot turn it into an element
    assert "**bold**" not in shown.replace("\\*\\*bold\\*\\*", "")
