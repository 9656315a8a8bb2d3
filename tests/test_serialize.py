"""Pipeline documents: every entry round-trips, and each kind of wrong document is refused with its field named."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from augviz import REGISTRY, Pipeline, Step, runconfig, serialize, share
from augviz.errors import ConfigError


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_entry_round_trips_through_json(name):
    pipe = Pipeline((Step.default(name), Step(name, REGISTRY[name].defaults(), 0.25, enabled=False)), seed=42)
    assert serialize.loads(serialize.dumps(pipe)) == pipe
    assert share.decode_pipeline(share.encode(share.SharedState(pipe, "scene"))["p"]) == pipe


def doc(**step) -> str:
    return json.dumps({"format": "augviz.pipeline", "version": 1, "seed": 0, "steps": [step]})


@pytest.mark.parametrize(("text", "path", "words"), [
    ("{not json", "", "not valid JSON (line 1, column 2"),
    ("[1, 2]", "", "a JSON object, got a list"),
    (json.dumps({"version": 1, "steps": [], "colour": 1}), "colour", "unknown field"),
    (json.dumps({"version": 9, "steps": []}), "version", "newer than this augviz reads"),
    (json.dumps({"steps": 5}), "version", "missing field 'version'"),
    (json.dumps({"version": 1}), "steps", "missing field 'steps'"),
    (json.dumps({"version": "1", "steps": []}), "version", "expected a whole number"),
    (json.dumps({"format": "other", "version": 1, "steps": []}), "format", "expected 'augviz.pipeline'"),
    (json.dumps({"version": 1, "steps": {}}), "steps", "expected a list of steps"),
    (json.dumps({"version": 1, "seed": -3, "steps": []}), "seed", "from 0 to"),
    (doc(transform="twirl"), "steps[0].transform", "unknown transform 'twirl'"),
    (doc(transform=3), "steps[0].transform", "expected a transform name"),
    (doc(transform="rotation", p=1.5), "steps[0].p", "probability from 0 to 1"),
    (doc(transform="rotation", enabled="yes"), "steps[0].enabled", "true or false"),
    (doc(transform="rotation", params={"degrees": [-15, 400]}), "steps[0].params.degrees[1]", "outside the allowed"),
    (doc(transform="rotation", params={"degrees": [15, -15]}), "steps[0].params.degrees", "above high"),
    (doc(transform="rotation", params={"degrees": 15}), "steps[0].params.degrees", "a pair [low, high]"),
    (doc(transform="rotation", params={"degrees": ["a", 1]}), "steps[0].params.degrees[0]", "expected a number"),
    (doc(transform="rotation", params={"fill": "wrap"}), "steps[0].params.fill", "one of nearest, reflect"),
    (doc(transform="rotation", params={"spin": 1}), "steps[0].params.spin", "unknown parameter of rotation"),
    (doc(transform="posterize", params={"bits": [2.5, 4]}), "steps[0].params.bits[0]", "whole number"),
    (doc(transform="zoom", params={"keep_aspect": 1}), "steps[0].params.keep_aspect", "true or false"),
    (doc(transform="mixup", params={"alpha": float("nan")}), "steps[0].params.alpha", "finite"),
    (doc(transform="rotation", extra=True), "steps[0].extra", "unknown field"),
])
def test_wrong_documents_name_the_field(text, path, words):
    with pytest.raises(ConfigError) as e:
        serialize.loads(text)
    assert e.value.path == path
    assert words in e.value.message


def test_missing_params_take_their_defaults():
    pipe = serialize.loads(doc(transform="rotation"))
    assert pipe.steps[0].params == REGISTRY["rotation"].defaults()


@pytest.mark.parametrize("value", ["", "!!!", "eJwLyUxWAAAB", "A" * 9000])
def test_a_damaged_link_is_refused_with_a_message(value):
    with pytest.raises(ConfigError) as e:
        share.decode_pipeline(value)
    assert e.value.path.startswith("link")


# ---- numbers no check can hold and nesting no parser should follow ------------------------------------------

HUGE = "1" + "0" * 400  # too large for a float: OverflowError in any comparison with one
HUGER = "1" + "0" * 5000  # beyond Python's 4,300-digit conversion limit: ValueError on parsing


def step_doc(field: str, number: str) -> str:
    step = {"transform": "rotation", "p": 0.5, "params": {"degrees": [-15, 15]}}
    text = json.dumps({"version": 1, "seed": 0, "steps": [step]})
    target = {"p": '"p": 0.5', "degrees": "[-15, 15]", "seed": '"seed": 0'}[field]
    replacement = {"p": f'"p": {number}', "degrees": f"[-{number}, 15]", "seed": f'"seed": {number}'}[field]
    return text.replace(target, replacement)


@pytest.mark.parametrize("number", [HUGE, HUGER], ids=["400 digits", "5000 digits"])
@pytest.mark.parametrize(("field", "path"), [("p", "steps[0].p"), ("degrees", "steps[0].params.degrees[0]"),
                                             ("seed", "seed")])
def test_a_number_too_large_for_a_float_is_refused_naming_its_field(number, field, path):
    with pytest.raises(ConfigError) as e:
        serialize.loads(step_doc(field, number))
    assert e.value.path == path and "digits is far too large" in e.value.message
    raw = step_doc(field, number).encode()
    link = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")
    with pytest.raises(ConfigError) as e:
        share.decode_pipeline(link)
    assert e.value.path == f"link: {path}"


def test_a_python_int_too_large_for_a_float_is_refused_too():
    doc = {"version": 1, "steps": [{"transform": "rotation", "p": int(HUGE)}]}
    with pytest.raises(ConfigError) as e:
        serialize.from_dict(doc)
    assert e.value.path == "steps[0].p"


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deep_nesting_is_refused_with_a_message(depth):
    text = '{"version": 1, "steps": [{"transform": "rotation", "params": {"degrees": ' + "[" * depth + "]" * depth \
        + "}}]}"
    with pytest.raises(ConfigError, match="nested too deeply"):
        serialize.loads(text)


@pytest.mark.parametrize("text", ['{"lr": ' + HUGE + "}", '{"lr": ' + HUGER + "}", "[" * 100_000 + "]" * 100_000,
                                  '{"net": {"depth": ' + HUGE + "}}"])
def test_run_configurations_refuse_them_the_same_way(text):
    with pytest.raises(ConfigError) as e:
        runconfig.loads(text)
    assert e.value.message


def test_explore_shows_a_message_for_such_a_link_and_such_an_import():
    at = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=30)
    at.query_params["p"] = base64.urlsafe_b64encode(zlib.compress(step_doc("p", HUGE).encode())).decode()
    at.run()
    assert not at.exception
    assert "steps[0].p" in at.warning[0].value.replace("\\", "")
    at.session_state["export_open"] = True
    at.run()
    at.text_area(key="import_text").input(step_doc("p", HUGER))
    at.button(key="import_load").click().run()
    assert not at.exception
    assert "steps[0].p" in at.error[0].value.replace("\\", "") and "far too large" in at.error[0].value


def test_a_message_quoting_a_huge_value_stays_short():
    # A document's own text is quoted back in messages; a pasted 10,000-character value must not fill the page.
    with pytest.raises(ConfigError) as e:
        serialize.from_dict({"format": "x" * 10_000, "version": 1, "steps": []})
    assert e.value.path == "format" and len(str(e.value)) < 300 and e.value.message.endswith("…")


@pytest.mark.parametrize(("text", "key"), [
    ('{"format": "augviz.pipeline", "version": 1, "seed": 1, "seed": 2, "steps": []}', "seed"),
    ('{"format": "augviz.pipeline", "version": 1, "steps": [{"transform": "rotation", "p": 0.5, "p": 1}]}', "p"),
])
def test_a_key_given_twice_is_refused_naming_it(text, key):
    with pytest.raises(ConfigError, match=f"'{key}' is given twice"):
        serialize.loads(text)
    with pytest.raises(ConfigError, match=f"'{key}' is given twice"):
        runconfig.loads(json.dumps({"pipeline": None})[:-1] + f', "pipeline": {text}}}')
