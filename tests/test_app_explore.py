"""The Explore page in Streamlit's AppTest: renders, reacts to sliders, imports, links and editing steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from augviz import Pipeline, Step, share
from augviz.preview import SEED_PIPELINE

APP = str(Path(__file__).parents[1] / "app.py")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception
    return at


def grid_urls(at: AppTest) -> list[str]:
    return [img.url for img in at.get("image")[1].proto.imgs]


def captions(at: AppTest) -> list[str]:
    return [img.caption for img in at.get("image")[1].proto.imgs]


def expander_labels(at: AppTest) -> list[str]:
    return [e.label for e in at.sidebar.expander]


def test_the_page_renders_the_seed_pipeline(app):
    assert expander_labels(app) == ["1. Rotation", "2. Affine (translate, scale, shear)", "3. Zoom in/out",
                                    "4. Horizontal flip"]
    assert len(grid_urls(app)) == 16
    assert len(app.get("code")) == 5  # JSON and the four export targets
    assert share.decode_pipeline(app.query_params["p"]) == SEED_PIPELINE


def test_moving_a_slider_changes_the_preview_and_the_link(app):
    before, link = grid_urls(app), app.query_params["p"]
    app.slider(key="0.degrees").set_value((-90.0, 90.0)).run()
    assert not app.exception
    assert grid_urls(app) != before
    assert app.query_params["p"] != link
    assert share.decode_pipeline(app.query_params["p"]).steps[0].params["degrees"] == (-90.0, 90.0)


def test_the_number_of_draws_follows_its_slider(app):
    app.sidebar.slider(key="n_draws").set_value(5).run()
    assert len(grid_urls(app)) == 5


def test_a_bad_json_import_shows_an_error_and_keeps_the_pipeline(app):
    before = grid_urls(app)
    app.text_area(key="import_text").input(json.dumps({"version": 1, "steps": [{"transform": "twirl"}]}))
    app.button(key="import_load").click().run()
    assert not app.exception
    assert "steps[0].transform" in app.error[0].value.replace("\\", "")
    assert "unknown transform" in app.error[0].value
    assert grid_urls(app) == before


def test_invalid_json_text_shows_an_error(app):
    app.text_area(key="import_text").input("{ not json").run()
    app.button(key="import_load").click().run()
    assert "not valid JSON" in app.error[0].value


def test_a_good_json_import_replaces_the_pipeline(app):
    doc = {"version": 1, "seed": 7, "steps": [{"transform": "invert", "p": 1.0}, {"transform": "gaussian_blur"}]}
    app.text_area(key="import_text").input(json.dumps(doc))
    app.button(key="import_load").click().run()
    assert not app.error
    assert expander_labels(app) == ["1. Invert", "2. Gaussian blur"]
    assert app.sidebar.number_input(key="seed").value == 7


def test_steps_can_be_added_moved_and_removed(app):
    app.sidebar.selectbox(key="add_choice").set_value("invert")
    app.sidebar.button(key="add_step").click().run()
    assert expander_labels(app)[-1] == "5. Invert"
    app.sidebar.button(key="4.up").click().run()
    assert expander_labels(app)[3] == "4. Invert"
    app.sidebar.button(key="4.remove").click().run()
    assert "Invert" not in " ".join(expander_labels(app))
    assert not app.exception


def test_switching_a_step_off_marks_it_and_changes_the_preview(app):
    before = grid_urls(app)
    app.sidebar.toggle(key="0.enabled").set_value(False).run()
    assert expander_labels(app)[0] == "1. Rotation (off)"
    assert grid_urls(app) != before


def test_reroll_draws_new_images(app):
    before = grid_urls(app)
    app.sidebar.button(key="reroll").click().run()
    assert grid_urls(app) != before


def test_a_shared_link_reproduces_what_the_sender_saw():
    pipe = Pipeline((Step("perspective"), Step("hue", {"shift": (-0.3, 0.3)})), seed=123)
    sender = AppTest.from_file(APP, default_timeout=30)
    sender.query_params.update(share.encode(share.SharedState(pipe, "scene")))
    sender.run()
    receiver = AppTest.from_file(APP, default_timeout=30)
    receiver.query_params.update(share.encode(share.SharedState(pipe, "scene")))
    receiver.run()
    assert expander_labels(sender) == ["1. Perspective", "2. Hue"]
    assert sender.sidebar.selectbox(key="image").value == "scene"
    assert sender.sidebar.number_input(key="seed").value == 123
    assert grid_urls(sender) == grid_urls(receiver)


def test_a_damaged_link_warns_and_shows_the_default():
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["p"] = "not-a-pipeline"
    at.run()
    assert not at.exception
    assert "could not be used" in at.warning[0].value
    assert len(expander_labels(at)) == len(SEED_PIPELINE.steps)


def test_mixing_steps_show_the_partner_and_the_weight(app):
    app.sidebar.selectbox(key="add_choice").set_value("mixup")
    app.sidebar.button(key="add_step").click().run()
    app.sidebar.slider(key="4.p").set_value(1.0).run()
    strip = [img.caption for img in app.get("image")[2].proto.imgs]
    assert any("mixed in with weight" in c for c in strip)


def test_fill_value_appears_only_for_a_constant_fill(app):
    keys = {s.key for s in app.sidebar.slider}
    assert "0.fill_value" not in keys
    app.sidebar.selectbox(key="0.fill").set_value("constant").run()
    app.sidebar.slider(key="0.fill_value").set_value(1.0).run()
    assert not app.exception
    assert share.decode_pipeline(app.query_params["p"]).steps[0].params["fill_value"] == 1.0
