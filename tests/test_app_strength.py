"""Explore's strength slider in Streamlit's AppTest: the preview, the exports, the link and the Train page's
runs follow it, and the page names a setting that strength pushed to its bound."""

from __future__ import annotations

import json

from augviz import Pipeline, Step, serialize, share
from augviz.preview import SEED_PIPELINE
from tests.apptest import fresh


def exported(at) -> dict:
    """The pipeline in the export panel's JSON tab."""
    at.session_state["export_open"] = True
    at.run()
    return json.loads(next(c.value for c in at.get("code") if c.language == "json"))


def test_strength_scales_the_exported_pipeline_and_travels_in_the_link():
    at = fresh({})
    before = [img.url for img in at.get("image")[0].proto.imgs[1:]]
    at.sidebar.slider(key="strength").set_value(0.5).run()
    doc = exported(at)
    assert doc["steps"][0]["params"]["degrees"] == [-7.5, 7.5]  # the seed article's ±15° halved
    assert at.query_params["s"] in ("0.5", ["0.5"])
    assert share.decode_pipeline(at.query_params["p"]) == SEED_PIPELINE  # the steps as set travel unchanged
    assert [img.url for img in at.get("image")[0].proto.imgs[1:]] != before


def test_a_link_with_a_strength_opens_at_that_strength():
    at = fresh({"s": "2"})
    assert at.sidebar.slider(key="strength").value == 2.0
    assert exported(at)["steps"][0]["params"]["degrees"] == [-30.0, 30.0]


def test_a_link_with_a_strength_out_of_range_says_so_and_keeps_one():
    at = fresh({"s": "9"})
    assert at.sidebar.slider(key="strength").value == 1.0
    assert any("strength" in w.value for w in at.warning)


def test_the_page_names_a_setting_that_hit_its_bound():
    pipe = Pipeline((Step("rotation", {"degrees": (-120.0, 120.0)}),))
    at = fresh({"p": share.pack(serialize.to_dict(pipe)), "s": "2"})
    text = " ".join(w.value for w in at.sidebar.warning).replace("\\", "")
    assert "step 1 (Rotation) degrees at \u2212180 and 180" in text


def test_strength_zero_shows_the_pictures_as_they_are():
    at = fresh({"s": "0"})
    assert all(not s["enabled"] for s in exported(at)["steps"])


def test_the_train_page_trains_the_pipeline_at_the_explore_strength():
    at = fresh({"s": "0.5"}, page="train")
    cfg = json.loads(next(c.value for c in at.get("code") if c.language == "json"))
    assert cfg["pipeline"]["steps"][0]["params"]["degrees"] == [-7.5, 7.5]


def test_an_export_at_a_strength_imported_again_is_not_scaled_twice():
    at = fresh({"s": "2"})
    doc = exported(at)
    assert doc["steps"][0]["params"]["degrees"] == [-30.0, 30.0]
    at.text_area(key="import_text").input(json.dumps(doc))
    at.button(key="import_load").click().run()
    assert at.sidebar.slider(key="strength").value == 1.0
    assert exported(at)["steps"][0]["params"]["degrees"] == [-30.0, 30.0]  # as imported, not ±60°
    done = " ".join(s.value for s in at.success).replace("\\", "")
    assert "Strength is back to 1 (it was 2)" in done, done


def test_strength_zero_says_so_instead_of_no_step_being_on():
    at = fresh({"s": "0"})
    info = " ".join(i.value for i in at.info)
    assert "Strength is 0: no augmentation. Raise the strength to see the pipeline." in info
    assert "No step is on" not in info
    assert any(f"· {len(SEED_PIPELINE.steps)} steps on ·" in c.value for c in at.caption)  # the steps as set
