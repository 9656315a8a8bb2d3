"""Who is queuing runs, for the queue's caps and turns (augviz/store/queue.py): a visitor is the logged-in user
when Streamlit's login (``st.login``, OIDC in ``.streamlit/secrets.toml``) is configured and they have logged
in, else the address the browser connects from, else (no address known: the app opened on localhost, or a proxy
that hides it) the browser session itself.

Behind one NAT (a lecture hall's network) every student has the same address, so without login the whole class
is one visitor, sharing one cap and one turn: turn login on for a class.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import streamlit as st


def visitor_key(user: Mapping[str, Any], address: str | None, session: str) -> str:
    """The visitor for a logged-in ``user`` (st.user), a client ``address`` and a browser ``session`` id."""
    if user.get("is_logged_in"):
        who = user.get("email") or user.get("sub")
        if who:
            return f"user:{who}"
    if address:
        return f"address:{address}"
    return f"session:{session}"


def visitor() -> str:
    """This page view's visitor."""
    session = st.session_state.setdefault("queue_session", uuid.uuid4().hex)
    return visitor_key(st.user.to_dict(), st.context.ip_address, session)
