"""Pipeline documents: every entry round-trips, and each kind of wrong document is refused with its field named."""

from __future__ import annotations

import json

import pytest

from augviz import REGISTRY, Pipeline, Step, serialize, share
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
