"""The Explore page in Streamlit's AppTest: renders, reacts to sliders, imports, links and editing steps."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from augviz import Pipeline, Step, share
from augviz.preview import SEED_PIPELINE
from augviz.ui import common

APP = str(Path(__file__).parents[1] / "app.py")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception
    return at


def open_panel(at: AppTest, key: str) -> AppTest:
    """Open a lazy expander (a step's, by its id, or a page panel's): its widgets are drawn only when open."""
    at.session_state[key] = True
    return at.run()


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
    assert share.decode_pipeline(app.query_params["p"]) == SEED_PIPELINE


def test_closed_panels_draw_nothing_and_open_ones_draw_their_widgets(app):
    assert not app.get("code") and not app.latex and [s.key for s in app.sidebar.slider] == ["n_draws"]
    open_panel(app, "formulas_open")
    assert [x.value.strip("$\n") for x in app.latex] == [s.transform.formula for s in SEED_PIPELINE.steps]
    open_panel(app, "1.open")
    assert {s.key for s in app.sidebar.slider} == {"1.p", "1.translate_x", "1.translate_y", "1.scale", "1.shear_x",
                                                  "1.shear_y", "n_draws"}
    open_panel(app, "export_open")
    assert [c.language for c in app.get("code")] == ["json"]  # only the chosen tab's text is sent
    for target in ("torchvision", "albumentations", "kornia", "keras", "augviz"):
        app.session_state["export_tab"] = target
        code = app.run().get("code")
        assert len(code) == 1 and code[0].language == "python" and "import" in code[0].value


def test_a_closed_steps_settings_survive_the_runs_that_do_not_draw_them(app):
    open_panel(app, "0.open").slider(key="0.degrees").set_value((-90.0, 90.0)).run()
    app.session_state["0.open"] = False
    app.run().run()
    assert share.decode_pipeline(app.query_params["p"]).steps[0].params["degrees"] == (-90.0, 90.0)


def test_moving_a_slider_changes_the_preview_and_the_link(app):
    before, link = grid_urls(app), app.query_params["p"]
    open_panel(app, "0.open").slider(key="0.degrees").set_value((-90.0, 90.0)).run()
    assert not app.exception
    assert grid_urls(app) != before
    assert app.query_params["p"] != link
    assert share.decode_pipeline(app.query_params["p"]).steps[0].params["degrees"] == (-90.0, 90.0)


def test_the_number_of_draws_follows_its_slider(app):
    app.sidebar.slider(key="n_draws").set_value(5).run()
    assert len(grid_urls(app)) == 5


def test_a_bad_json_import_shows_an_error_and_keeps_the_pipeline(app):
    before = grid_urls(open_panel(app, "export_open"))
    app.text_area(key="import_text").input(json.dumps({"version": 1, "steps": [{"transform": "twirl"}]}))
    app.button(key="import_load").click().run()
    assert not app.exception
    assert "steps[0].transform" in app.error[0].value.replace("\\", "")
    assert "unknown transform" in app.error[0].value
    assert grid_urls(app) == before


def test_invalid_json_text_shows_an_error(app):
    open_panel(app, "export_open").text_area(key="import_text").input("{ not json").run()
    app.button(key="import_load").click().run()
    assert "not valid JSON" in app.error[0].value


def test_a_good_json_import_replaces_the_pipeline(app):
    doc = {"version": 1, "seed": 7, "steps": [{"transform": "invert", "p": 1.0}, {"transform": "gaussian_blur"}]}
    open_panel(app, "export_open").text_area(key="import_text").input(json.dumps(doc))
    app.button(key="import_load").click().run()
    assert not app.error
    assert expander_labels(app) == ["1. Invert", "2. Gaussian blur"]
    assert app.sidebar.number_input(key="seed").value == 7


def test_steps_can_be_added_moved_and_removed(app):
    app.sidebar.selectbox(key="add_choice").set_value("invert")
    app.sidebar.button(key="add_step").click().run()
    assert expander_labels(app)[-1] == "5. Invert"
    open_panel(app, "4.open").sidebar.button(key="4.up").click().run()
    assert expander_labels(app)[3] == "4. Invert"
    app.sidebar.button(key="4.remove").click().run()  # a moved step stays open
    assert "Invert" not in " ".join(expander_labels(app))
    assert not app.exception


def test_switching_a_step_off_marks_it_and_changes_the_preview(app):
    before = grid_urls(app)
    open_panel(app, "0.open").sidebar.toggle(key="0.enabled").set_value(False).run()
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
    open_panel(app, "4.open").sidebar.slider(key="4.p").set_value(1.0).run()
    strip = [img.caption for img in app.get("image")[2].proto.imgs]
    assert any("mixed in with weight" in c for c in strip)


def test_fill_value_appears_only_for_a_constant_fill(app):
    keys = {s.key for s in open_panel(app, "0.open").sidebar.slider}
    assert "0.fill_value" not in keys
    app.sidebar.selectbox(key="0.fill").set_value("constant").run()
    app.sidebar.slider(key="0.fill_value").set_value(1.0).run()
    assert not app.exception
    assert share.decode_pipeline(app.query_params["p"]).steps[0].params["fill_value"] == 1.0


def test_the_libraries_are_frozen_out_of_the_collector_once():
    gc.unfreeze()
    common._imports_frozen = False
    try:
        common.freeze_imports()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        session_objects = [[] for _ in range(100)]  # what sessions allocate later stays collectable
        common.freeze_imports()
        assert gc.get_freeze_count() == frozen and session_objects
    finally:
        gc.unfreeze()
