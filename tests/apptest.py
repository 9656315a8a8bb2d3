"""Opening the app in Streamlit's AppTest as a new browser would: a fresh session on a link."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).parents[1] / "app.py")


def fresh(query: dict[str, str], page: str = "explore") -> AppTest:
    """A new session (a new browser) opening a link to ``page`` with ``query``, run once, without an exception."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update(query)
    if page != "explore":
        at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception
    return at
