"""Session state that lasts, and links that carry a page's view: one call at the top of every page.

Streamlit forgets a widget's value at the end of any run that did not draw the widget, so a control on one page
lost its value as soon as another page was shown. Every page registers the keys it keeps; at the end of every
complete run ``remember`` copies the kept values aside and notes which widgets were on screen, and at the top of
the next run ``page`` writes back the others (Streamlit then keeps them, and sends them to the browser when their
widget appears). A widget that was on screen is never written: that would push its value to the browser over a
change the user made while the run was going; after a page switch none is on screen, and the kept values are
written (the switch drops the widgets, and what session state then holds under such a key can be an older value).
A key the page deleted on purpose is forgotten.

A page's linked keys travel in the address bar: ``finish`` (after the page ran) writes them as query parameters,
and the first run of a session (someone opened a link) reads them back before any widget is drawn. A value that a
widget then refuses (out of range, not an option) is dropped with a message, and the page draws again without it.
Each such message names the setting, the value it refused, and the value the page uses instead (its control's own).
"""

from __future__ import annotations

import json
import math
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import StopException

from augviz.ui import common

MAX_VALUE_LENGTH = 2000  # characters of one linked value; a longer one is refused, never parsed
_PAGE = "_state.page"  # session key: the page this run shows
_LINK_READ = "_state.link_read"  # session key: the link has been read (once per session)
_APPLIED = "_state.applied"  # session key: keys set from the link in this run
_OPENED = "_state.opened"  # session key: this run read the link (the session's first run)
_KEPT = "_state.kept"  # session key: the kept keys' values at the end of the last complete run
_DRAWN = "_state.drawn"  # session key: the kept keys whose widgets that run drew
_DRAWN_ON = "_state.drawn_on"  # session key: the page that run showed
_CAVEAT = "_state.caveat"  # session key: what this run's link cannot carry
MESSAGES = "_state.messages"  # session key: what the link could not set, shown by the page
_REFUSED = "_state.refused"  # session key: the link's values refused in this run, said once the page has drawn

_lock = threading.Lock()
_keep: dict[str, re.Pattern[str]] = {}  # page → the keys it keeps (names and patterns)
Codec = tuple[Callable[[Any], str], Callable[[str], Any]]  # (value → text, text → value or ValueError)
Link = Mapping[str, "str | tuple[str, Codec]"]  # query name → session key, or (session key, codec)
_links: dict[str, dict[str, tuple[str, Codec | None]]] = {}  # page → {query name: (session key, codec)}
_labels: dict[str, dict[str, str]] = {}  # page → {session key: its control's label}, for messages


def page(name: str, link: Link | None = None, keep: Iterable[str] = (),
         labels: Mapping[str, str] | None = None) -> None:
    """The first line of every page: run inside ``app.py``, register the page's keys, keep every page's values,
    and on a session's first run read the link.

    ``link`` maps query parameter names to the session keys they carry, each optionally with a codec (default:
    text as it is, anything else as JSON); every linked key is kept as well. ``keep`` names more keys to keep,
    as exact names or regular expressions (``r"\\d+\\.p"``): never a button's or an upload's key (Streamlit
    refuses values for those). ``labels`` gives linked keys' control labels, for messages about a link's value.
    """
    through_app()
    links = {q: (v, None) if isinstance(v, str) else (v[0], v[1]) for q, v in (link or {}).items()}
    kept = [re.escape(key) for key, _ in links.values()] + list(keep)
    with _lock:
        _links[name] = links
        _labels[name] = dict(labels or {})
        _keep[name] = re.compile("|".join(f"(?:{k})" for k in kept) or "(?!)")
    state = st.session_state
    state[_PAGE] = name
    _restore()
    state[_OPENED] = not state.get(_LINK_READ)
    if state[_OPENED]:
        state[_LINK_READ] = True
        state[_APPLIED] = _read_link(links)
    else:
        state[_APPLIED] = []


def _kept(key: object) -> bool:
    with _lock:
        patterns = list(_keep.values())
    return isinstance(key, str) and any(p.fullmatch(key) for p in patterns)


def _restore() -> None:
    """At the top of a run: put back each kept value whose widget the last complete run did not draw, or that
    Streamlit dropped since.

    Written through session state, the value also goes to the browser when the widget appears again (otherwise
    the browser would show the widget's default while the server holds the kept value). Widgets that were on
    screen are left alone: the browser already shows their value, and may be sending a newer one. After a page
    switch none of them is on screen, and their kept values are written: Streamlit dropped the last page's
    widgets, and such a key can still read as present, holding what was written through session state before the
    widget took it over (a step's default), not the widget's last value."""
    state = st.session_state
    drawn = state.get(_DRAWN, set())
    switched = state.get(_DRAWN_ON) != state.get(_PAGE)
    for key, value in state.get(_KEPT, {}).items():
        if key not in state or (switched and key in drawn):  # a page switch drops the last page's widgets
            state[key] = value
        elif key not in drawn:  # as it is now: a callback may have changed it since
            state[key] = state[key]


def remember() -> None:
    """At the end of a complete run: the kept keys' values, and which of them had their widget drawn.

    Writing each value back tells which: Streamlit refuses a write to the key of a widget drawn in this run. The
    others are written, so that Streamlit keeps them past this run."""
    state = st.session_state
    kept = {key: state[key] for key in list(state.keys()) if _kept(key)}
    drawn = set()
    for key, value in kept.items():
        try:
            state[key] = value
        except StreamlitAPIException:
            drawn.add(key)
    state[_KEPT], state[_DRAWN], state[_DRAWN_ON] = kept, drawn, state.get(_PAGE)


def _forget_deleted() -> None:
    """After a run cut short (a rerun): forget the kept keys the page deleted, and write nothing."""
    state = st.session_state
    state[_KEPT] = {key: value for key, value in state.get(_KEPT, {}).items() if key in state}


def encode(value: Any) -> str:
    """A query value: text as it is (quoted only when it would read as JSON), anything else as compact JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, separators=(",", ":"))


def decode(text: str) -> Any:
    """The value of a query parameter: JSON when it parses (a number, text, true/false or a flat list), else the
    text itself. ValueError for what no control holds: nesting, numbers beyond 2⁵³, infinities."""
    if len(text) > MAX_VALUE_LENGTH:
        raise ValueError(f"longer than {MAX_VALUE_LENGTH} characters")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError:  # not JSON (plain text), or an integer too long for Python to convert
        if re.fullmatch(r"-?\d+", text):
            raise ValueError("a number too large") from None
        return text
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, (list, dict)):
            raise ValueError("nested values are not settings")
        if (isinstance(v, float) and not math.isfinite(v)) or (isinstance(v, int) and abs(v) > 2**53):
            raise ValueError("a number too large")
    return value


def whole(lo: int, hi: int) -> Codec:
    """The codec of a number input's whole number: in a link, anything else (a fraction, text, a number out of
    the input's range, an infinity) is left out with a message, where the input itself would quietly show its
    default instead."""
    def parse(text: str) -> int:
        value = decode(text)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"not a whole number from {lo} to {hi}")
        return value

    return encode, parse


def one_of(options: Iterable[Any]) -> Codec:
    """The codec of a control with fixed choices (a select box, a radio, a toggle, a preset): in a link, a value
    that is none of them is left out with a message, where the control would quietly show its first choice (or,
    for a key the page looks up, fail)."""
    choices = tuple(options)
    listed = f": {', '.join(encode(c) for c in choices)}" if len(choices) <= 12 else ""

    def parse(text: str) -> Any:
        value = decode(text)
        for choice in choices:  # the choice itself: True is not the choice 1, nor 1 the choice 1.0's type
            if value == choice and isinstance(value, bool) == isinstance(choice, bool):
                return choice
        raise ValueError(f"not one of that control's choices{listed}")

    return encode, parse


ON_OFF = one_of((False, True))  # a toggle's codec


def on_grid(lo: float, hi: float, step: float) -> Codec:
    """The codec of a slider's number: in a link, anything that is not a number from ``lo`` to ``hi`` in steps of
    ``step`` is left out with a message, where the slider would refuse it or quietly hold a value it cannot show
    (250 in steps of 250 holds 260)."""
    whole_numbers = all(isinstance(v, int) for v in (lo, hi, step))

    def parse(text: str) -> float | int:
        value = decode(text)
        if not isinstance(value, bool) and isinstance(value, (int, float)):
            k = (value - lo) / step
            if lo <= value <= hi and abs(k - round(k)) < 1e-6:
                return lo + round(k) * step if whole_numbers else round(lo + round(k) * step, 10)
        raise ValueError(f"not a number from {lo:g} to {hi:g} in steps of {step:g}")

    return encode, parse


def _read_link(links: Mapping[str, tuple[str, Codec | None]]) -> list[str]:
    """Set the linked keys from the query string; returns the keys set. Bad values become messages."""
    state, applied = st.session_state, []
    for query, (key, codec) in links.items():
        text = st.query_params.get(query)
        if text is None:
            continue
        try:
            if len(text) > MAX_VALUE_LENGTH * 4:
                raise ValueError("too long")
            value = decode(text) if codec is None else codec[1](text)
        except (ValueError, OverflowError, RecursionError) as e:
            _refused(query, key, text, str(e))
            continue
        state[key] = value
        applied.append(key)
    return applied


def _refused(query: str, key: str, text: str, why: str | None = None) -> None:
    """Note that the link's ``text`` for ``key`` was not used; said once the page has drawn (``say_refused``),
    with the value the page uses instead."""
    st.session_state.setdefault(_REFUSED, []).append((query, key, text, why))


def say_refused() -> None:
    """After the page drew (before ``finish`` writes the address): a message for each link value refused in this
    run (or the run it restarted), naming the setting, the value refused and why, and what the page uses instead:
    its control's value now."""
    labels = _labels_now()
    for query, key, text, why in st.session_state.pop(_REFUSED, []):
        if st.session_state.get(key) is None:  # no value of its own to write there (``finish``): not the refused one
            st.query_params.pop(query, None)
        note(f"The link's value for {_named(query, labels.get(key))} was not used: “{shown(text)}” did not fit "
             f"that control{f' ({why})' if why else ''}; the page uses {_in_use(key)} instead.")


def _in_use(key: str) -> str:
    """The value a control holds now, as a message shows it: its default when it holds none."""
    value = st.session_state.get(key)
    if value is None or isinstance(value, dict):
        return "the control's default"
    if isinstance(value, bool):
        return "“on”" if value else "“off”"
    if isinstance(value, (list, tuple)):
        return "“" + ", ".join(shown(encode(v)) for v in value) + "”"
    return f"“{shown(f'{value:g}' if isinstance(value, float) else str(value))}”"


def from_link() -> list[str]:
    """The session keys this run set from the link (empty but on a session's first run)."""
    return list(st.session_state.get(_APPLIED) or [])


def opened() -> bool:
    """Whether this run opened the link (a session's first run): the run to check what else the link names."""
    return bool(st.session_state.get(_OPENED))


def _labels_now() -> dict[str, str]:
    with _lock:
        return _labels.get(st.session_state.get(_PAGE, ""), {})


def note(message: str) -> None:
    """A message about the link of the page this run shows, kept on top of that page for the session."""
    st.session_state.setdefault(MESSAGES, []).append((st.session_state.get(_PAGE, ""), message))


def messages() -> list[str]:
    """The messages about the link of the page this run shows."""
    page_name = st.session_state.get(_PAGE, "")
    return [m for p, m in st.session_state.get(MESSAGES, []) if p == page_name]


def through_app() -> None:
    """Make sure the page runs inside ``app.py``'s set-up and navigation.

    Streamlit runs a page file on its own (its old multipage mode, for apps with a ``pages/`` folder) when the
    server's first visitor opens a deep link such as ``/train`` before any run of ``app.py`` declared the pages;
    AppTest does so for every run of a page other than the default. Then run the app here, around this page
    (``st.navigation`` is public and ends that mode), and end the outer run, whose page has drawn nothing yet:
    the same run, so a click that started it is not lost.
    """
    if not common.inside_app():
        run_app()
        # Not st.stop(): it also cancels a rerun queued meanwhile, so a click made while a busy server drew this
        # first view did nothing. Ending the run as st.stop() does, minus that request, keeps the click.
        raise StopException


def run_app() -> None:
    """``app.py``'s whole body: set up, declare the pages, run the one the address names, then update the link."""
    common.setup()
    current = common.navigation()
    slot = st.sidebar.container()  # the link, at the top of the sidebar, filled once the page has run
    top = st.container()  # what the link could not set, above the page
    common.set_inside_app(True)
    try:
        try:
            current.run()
        except (StreamlitAPIException, ValueError, TypeError):
            # A widget refused a value that a link set: drop the link's values, say so, draw again.
            if not refuse_link():
                raise
            st.rerun()
        say_refused()
        finish()
        with slot:
            copy_link()
        for message in messages():
            top.warning(common.md_escape(message))
        remember()
    except BaseException:  # cut short: a rerun, a stop, an error
        _forget_deleted()
        raise
    finally:
        common.set_inside_app(False)


def link_caveat(text: str) -> None:
    """Say, beside this run's link, what the link cannot carry (e.g. an uploaded picture)."""
    st.session_state[_CAVEAT] = text


def copy_link() -> None:
    """A "Copy link" button: the address of this view, with a copy button, and what it cannot carry."""
    caveat = st.session_state.pop(_CAVEAT, None)
    base = st.context.url or ""
    query = urllib.parse.urlencode(link_params())
    with st.popover("Copy link", help="A link that opens this view as it is now, in any browser."):
        st.code(f"{base}?{query}" if query else base, language=None, wrap_lines=True)
        if caveat:
            st.warning(caveat)
        else:
            st.caption("Copy it with the button at the code's corner. Opened in a new browser, it shows the same "
                       "settings and the same draws.")


def refuse_link() -> bool:
    """After a page failed: when this run set values from the link, drop them, say so and return True (the
    caller reruns); otherwise False (the error is not the link's)."""
    state = st.session_state
    applied = state.get(_APPLIED) or []
    if not applied:
        return False
    for key in applied:
        state.pop(key, None)
    state[_APPLIED] = []
    with _lock:
        links = _links.get(state.get(_PAGE, ""), {})
    for query, (key, _) in links.items():
        if key in applied:
            _refused(query, key, st.query_params.get(query, ""))
    return True


def _named(query: str, label: str | None) -> str:
    """A link's parameter as the user can find it: its name in the address and its control's label."""
    if not label or label.split(" ")[0] == query:  # "seed", "depth (weight layers)": the label starts with it
        return label or query
    return f"{query} ({label})"


def shown(text: str, most: int = 40) -> str:
    """A link's value in a message: as it is, shortened when long."""
    return text if len(text) <= most else f"{text[:most]}…"


def link_params(name: str | None = None) -> dict[str, str]:
    """The query parameters that reproduce the page's view now."""
    state = st.session_state
    name = name or state.get(_PAGE, "")
    with _lock:
        links = _links.get(name, {})
    return {query: (encode if codec is None else codec[0])(state[key])
            for query, (key, codec) in links.items() if state.get(key) is not None}


def finish() -> None:
    """After the page ran: make the address bar say what is shown (only when it differs: no needless history).
    Parameters the page wrote itself this run (a selected run) stay."""
    wanted = {**st.query_params.to_dict(), **link_params()}
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
