"""A page file that Streamlit runs on its own (a deep link opened before any run of ``app.py``) runs the app
around itself and ends its own run without losing what the visitor did meanwhile."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from augviz.ui import state


def page_opened_before_the_app() -> None:
    """A page file's first line, run while a click queues a rerun (as a busy server's slow first draw allows)."""
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

    from augviz.ui import state

    runs = st.session_state.setdefault("runs", [])
    runs.append(len(runs))
    if len(runs) == 1:
        get_script_run_ctx().script_requests.request_rerun(RerunData(query_string=""))  # the click
    state.through_app()
    st.write("the page file's own body")  # never reached: the app drew the page already


def test_a_click_during_a_deep_links_first_draw_gets_its_rerun(monkeypatch):
    # st.stop() would drop the queued rerun: the visitor's click did nothing (a Use-strength click on a busy
    # server, seen in a browser).
    monkeypatch.setattr(state, "run_app", lambda: None)
    at = AppTest.from_function(page_opened_before_the_app, default_timeout=30).run()
    assert not at.exception
    assert at.session_state["runs"] == [0, 1]
    assert not [m for m in at.markdown if "own body" in m.value]
