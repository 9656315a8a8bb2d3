"""The Train page's sweep panel: how strong should the augmentation be? The form, the run count and estimate, the
one-click start, and the answer filling in live (``augviz.sweep`` does the work)."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from augviz import charts, serialize, share, sweep, worker
from augviz.errors import ConfigError
from augviz.pipeline import Pipeline
from augviz.runconfig import RunConfig
from augviz.store import Store
from augviz.transform import REGISTRY
from augviz.ui import state, train
from augviz.ui.common import md_escape

LINK_KEY = "w_link"  # session key of the shown sweep (packed), in the link as ``sweep``
MAX_SEEDS = 5  # the seeds slider's end
KEEP = ("w_open", "w_axis", r"w_values\..*", "w_sizes", "w_seeds", "w_refs")
STRENGTH = "strength"


def axis_options(pipeline: Pipeline) -> dict[str, str]:
    """The axes a sweep can take here, by key: strength, and every sweepable setting of every step."""
    out = {STRENGTH: "strength (the whole pipeline)"}
    for i, step in enumerate(pipeline.steps):
        for name in sweep.sweepable(step):
            out[f"{i}.{name}"] = f"step {i + 1}, {step.transform.label}: {name.replace('_', ' ')}"
    return out


def _axis(choice: str) -> sweep.Axis:
    if choice == STRENGTH:
        return sweep.Axis()
    index, name = choice.split(".", 1)
    return sweep.Axis(int(index), name)


def default_values(pipeline: Pipeline, axis: sweep.Axis) -> str:
    """The values offered for an axis: strengths 0 to 2, or 0 to twice the setting as it is now."""
    if axis.is_strength:
        return ", ".join(f"{v:g}" for v in sweep.STRENGTHS)
    assert axis.step is not None
    step = pipeline.steps[axis.step]
    p = next(p for p in step.transform.params if p.name == axis.param)
    now = step.params[p.name]
    assert p.low is not None and p.high is not None
    top = p.high
    if p.is_range:
        assert p.identity is not None
        now = max(abs(now[0] - p.identity), abs(now[1] - p.identity))
        top = max(p.high - p.identity, p.identity - p.low)
    offered = {0.0 if p.is_range else now / 2, now / 2, now, 1.5 * now, 2 * now}
    return ", ".join(f"{v:g}" for v in sorted({min(v, top) for v in offered}))  # what the setting can hold


def parse_values(text: str) -> tuple[float, ...]:
    """Comma-separated numbers; ConfigError naming the values when one is not a number."""
    out = []
    for part in text.replace(";", ",").split(","):
        if part.strip():
            try:
                out.append(float(part))
            except ValueError:
                raise ConfigError("values", f"{part.strip()[:20]!r} is not a number") from None
    return tuple(out)


def sweep_form(base: RunConfig) -> sweep.Sweep | None:
    """The sweep the form describes (the Train configuration with the Explore pipeline as set), or None with a
    message."""
    pipeline_doc = train.explore_pipeline_as_set()
    pipeline = serialize.from_dict(pipeline_doc)
    options = axis_options(pipeline)
    _form_from_link(options)
    if st.session_state.get("w_axis") not in options:
        st.session_state["w_axis"] = STRENGTH
    choice = st.selectbox("sweep", list(options), format_func=options.get, key="w_axis",
                          help="Strength scales every amount of the pipeline at once; or sweep one setting of one "
                               "step (a range: that far either side of doing nothing).")
    axis = _axis(choice)
    values_key = f"w_values.{choice}"
    st.session_state.setdefault(values_key, default_values(pipeline, axis))
    left, right = st.columns(2)
    text = left.text_input("values", key=values_key, help="Comma-separated. For strength, 0 is no augmentation.")
    seeds = right.slider("seeds", 1, MAX_SEEDS, 3, key="w_seeds", help="Two or more give intervals; more narrow them.")
    sizes = left.multiselect("training-set sizes (optional)", train.SIZES, key="w_sizes",
                             help="One curve per size: does the best strength grow with the data?")
    refs = right.multiselect("reference arms (optional)", sweep.REFERENCES, key="w_refs",
                             format_func=lambda n: REGISTRY[n].label,
                             help="Tuning-free policies beside your pipeline.")
    try:
        return sweep.Sweep(replace(base, pipeline=None), pipeline_doc, axis, parse_values(text), tuple(sizes), seeds,
                           tuple(refs))
    except ConfigError as e:
        st.error(md_escape(str(e)))
        return None


def _form_from_link(options: dict[str, str]) -> None:
    """On opening a link to a sweep, its setting, values, seeds, sizes and reference arms go to the form's controls
    (the link's other values set the configuration and the pipeline), so that the sweep as set is the linked one:
    Run then trains what the link shows. A part no control can hold is left as the control has it."""
    if LINK_KEY not in state.from_link():
        return
    try:
        linked = sweep.from_dict(share.unpack(st.session_state[LINK_KEY], "sweep"))
    except ConfigError:
        return  # the results' place says what is wrong with the link
    choice = STRENGTH if linked.axis.is_strength else f"{linked.axis.step}.{linked.axis.param}"
    if choice not in options:
        return
    st.session_state["w_axis"] = choice
    st.session_state[f"w_values.{choice}"] = ", ".join(f"{v:g}" for v in linked.values)
    if linked.seeds <= MAX_SEEDS:
        st.session_state["w_seeds"] = linked.seeds
    if set(linked.sizes) <= set(train.SIZES):
        st.session_state["w_sizes"] = list(linked.sizes)
    st.session_state["w_refs"] = list(linked.references)


def sweep_panel(store_: Store, base: RunConfig) -> None:
    """How strong should the augmentation be? A lazy panel (closed, it costs nothing: its estimate measures this
    machine's speed at first need), open by itself when the link names a sweep."""
    if st.session_state.get(LINK_KEY) and "w_open" not in st.session_state:
        st.session_state["w_open"] = True
    with st.expander("How strong should the augmentation be? Sweep the strength", key="w_open",
                     on_change="rerun") as box:
        if box.open:
            _panel(store_, base)


def _panel(store_: Store, base: RunConfig) -> None:
    st.caption("The configuration on the left at each value, beside the same runs without augmentation (trained "
               "once per seed and size: any stored run of the same configuration, from an earlier sweep or "
               "experiment, is used instead of training it again). The pick is made on the validation split, never "
               "on test; the test accuracy is reported apart.")
    sw = sweep_form(base)
    shown = shown_sweep()
    if sw is not None:
        arms = sweep.plan(sw)
        runs = train.guarded(sweep.stored, store_, arms) or []  # only its configurations' (the store's index)
        at_once = train.guarded(worker.max_concurrent) or 1
        todo = sweep.to_launch(sw, runs)
        planned = len({a.key for a in arms})
        # The sweep as set is shown once a run of one of its values is stored (a baseline alone is every sweep's
        # of this configuration), or, when no sweep is named by the link or this session, once any of its runs is
        # (another tab's or the teacher's, filling in live); it is written to the link so that a reload keeps it.
        begun = sweep.match([a for a in arms if a.kind != "baseline"], runs)
        if (begun and (shown is None or shown.to_dict() != sw.to_dict())) or (shown is None and sweep.match(arms,
                                                                                                            runs)):
            shown = sw
            st.session_state[LINK_KEY] = share.pack(sw.to_dict())
        st.button(f"Run the sweep ({len(todo)} runs to train)", key="w_go", disabled=not todo,
                  on_click=_start_sweep, args=(store_, sw))
        count = sweep.count_text("sweep", planned, len(todo))
        if todo:
            count += " " + train.estimate_text(store_, todo, at_once)
        elif shown is not None and shown.to_dict() == sw.to_dict():
            count += " Its results are below."
        st.caption(md_escape(count))
        train.store_error()
        if shown is not None and shown.to_dict() != sw.to_dict():
            st.info(md_escape("The results below are of the sweep last shown here, not of the one set above (no run "
                              f"of its values is in the store yet). It differs in: "
                              f"{'; '.join(sweep.differences(shown, sw))}."))
    if shown is not None:
        sweep_results(store_, shown)


def shown_sweep() -> sweep.Sweep | None:
    """The sweep in the link (``?sweep=``) or started in this session, None when none is (a damaged link: a
    message)."""
    return train.linked_plan(LINK_KEY, "sweep", sweep.from_dict)


def _start_sweep(store_: Store, sw: sweep.Sweep) -> None:
    """Queue the runs no stored run serves, once (the launch key), and show the sweep (a callback)."""
    at_once = train.guarded(worker.max_concurrent)
    if at_once is None:
        return
    todo = sweep.to_launch(sw, train.guarded(sweep.stored, store_, sweep.plan(sw)) or [])
    if todo:
        train.launch(store_, todo, key=sweep.launch_key(todo))
    st.session_state[LINK_KEY] = share.pack(sw.to_dict())


def _use_strength(value: float) -> None:
    """Set the Explore page's strength, and redraw the whole page: the button is in the results' fragment, whose
    own rerun would leave the experiment panel above on the old strength's verdict."""
    st.session_state["strength"] = value
    st.session_state["w_used"] = value
    st.rerun()  # from a callback: the app's rerun instead of the fragment's


def sweep_results(store_: Store, sw: sweep.Sweep) -> None:
    """The sweep's answer, filling in live while its runs go: per size the sentence, the chart and the table."""
    first = train.guarded(sweep.progress, store_, sw)

    @st.fragment(run_every=train.POLL_S if first is not None and first.going else None)
    def results() -> None:
        state = train.guarded(sweep.progress, store_, sw)
        if state is None:
            train.store_error()
            return
        going = state.going
        queued = sum(r.status == "queued" for r in going)
        over = sum(r.is_over for r in state.served.values())
        line = f"{over} of {state.planned} runs over"
        if going:
            line += f" ({len(going) - queued} running, {queued} queued)"
        if state.missing:
            line += f"; {state.missing} not trained yet (or failed or stopped): press Run to train them"
        st.caption(line + ".")
        for answer in state.answers:
            st.markdown(md_escape(answer.sentence()))
            offer, why_not = answer.offer(), answer.no_offer()
            if sw.axis.is_strength and offer is not None and offer == st.session_state.get("strength", 1.0):
                st.caption(f"The Explore page's strength is {offer:g} already.")
            elif sw.axis.is_strength and offer is not None:
                st.button(f"Use strength {offer:g}" + (f" ({answer.size:,} images)" if len(state.answers) > 1
                                                        else ""),
                          key=f"w_use_{answer.size}", on_click=_use_strength, args=(offer,),
                          help="Set the Explore page's strength to this value: its preview, exports and the "
                               "runs started here then use it.")
            elif sw.axis.is_strength and why_not:
                st.caption(md_escape(why_not))
        used = st.session_state.pop("w_used", None)
        if used is not None:
            st.success(f"The Explore page's strength is now {used:g}.")
        if any(r.val for a in state.answers for r in a.rows):
            left, right = st.columns(2)
            left.plotly_chart(charts.sweep_curve(state.answers, "validation"), key="w_val_chart")
            right.plotly_chart(charts.sweep_curve(state.answers, "test"), key="w_test_chart")
            st.caption(charts.SWEEP_CAPTION)
        st.caption(" ".join(a.note() for a in state.answers))
        for answer in state.answers:
            # A static table wraps its cells to the column's width (a scrolling grid cut off its last column,
            # "test vs none", at 800 px); unbreakable spaces keep a mean and an interval whole when they wrap.
            st.table([{k: v.replace(" %", "\u00a0%").replace(", ", ",\u00a0") for k, v in row.items()}
                      for row in answer.table()], hide_index=True, border="horizontal")
        if first is not None and first.going and not going:
            st.rerun()

    results()
