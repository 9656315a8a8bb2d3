"""The Explore page in Streamlit's AppTest: renders, reacts to sliders, imports, links and editing steps."""

from __future__ import annotations

import json

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.testing.v1 import AppTest

from augviz import Pipeline, Step, share
from augviz.preview import SEED_PIPELINE
from augviz.ui import common
from tests.apptest import APP, fresh


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
    """The draws' pictures (the grid's first tile is the original)."""
    return [img.url for img in at.get("image")[0].proto.imgs[1:]]


def captions(at: AppTest) -> list[str]:
    return [img.caption for img in at.get("image")[0].proto.imgs[1:]]


def strip_captions(at: AppTest) -> list[str]:
    return [img.caption.replace("\\", "") for img in at.get("image")[1].proto.imgs]


def code_blocks(at: AppTest) -> list:
    """The page's code blocks, less the link in the "Copy link" popover."""
    return [c for c in at.get("code") if c.language != "plaintext"]


def expander_labels(at: AppTest) -> list[str]:
    return [e.label for e in at.sidebar.expander]


def test_the_page_renders_the_seed_pipeline(app):
    assert expander_labels(app) == ["1. Rotation", "2. Affine (translate, scale, shear)", "3. Zoom in/out",
                                    "4. Horizontal flip"]
    assert len(grid_urls(app)) == 16
    assert share.decode_pipeline(app.query_params["p"]) == SEED_PIPELINE


def test_closed_panels_draw_nothing_and_open_ones_draw_their_widgets(app):
    assert not code_blocks(app) and not app.latex and [s.key for s in app.sidebar.slider] == ["n_draws",
                                                                                                  "strength"]
    open_panel(app, "formulas_open")
    assert [x.value.strip("$\n") for x in app.latex] == [s.transform.formula for s in SEED_PIPELINE.steps]
    open_panel(app, "1.open")
    assert {s.key for s in app.sidebar.slider} == {"1.p", "1.translate_x", "1.translate_y", "1.scale", "1.shear_x",
                                                  "1.shear_y", "strength", "n_draws"}
    open_panel(app, "export_open")
    assert [c.language for c in code_blocks(app)] == ["json"]  # only the chosen tab's text is sent
    for target in ("torchvision", "albumentations", "kornia", "keras", "augviz"):
        app.session_state["export_tab"] = target
        code = code_blocks(app.run())
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
    assert "was not used" in at.warning[0].value
    assert len(expander_labels(at)) == len(SEED_PIPELINE.steps)


def test_mixing_blends_in_another_augmented_picture_and_shows_the_label(app):
    app.sidebar.selectbox(key="add_choice").set_value("mixup")
    app.sidebar.button(key="add_step").click().run()
    open_panel(app, "4.open").sidebar.slider(key="4.p").set_value(1.0).run()
    strip = strip_captions(app)
    partner = next(c for c in strip if c.startswith("mixed in: "))
    assert partner.split(": ")[1].split(",")[0] in {"Checkerboard", "Text", "Landscape"}  # never the test card
    assert "weight" in partner
    bar = app.get("progress")[0].proto.text.replace("\\", "")
    assert bar.startswith("label: ") and "Test card" in bar and partner.split(": ")[1].split(",")[0] in bar


def test_fill_value_appears_only_for_a_constant_fill(app):
    keys = {s.key for s in open_panel(app, "0.open").sidebar.slider}
    assert "0.fill_value" not in keys
    app.sidebar.selectbox(key="0.fill").set_value("constant").run()
    app.sidebar.slider(key="0.fill_value").set_value(1.0).run()
    assert not app.exception
    assert share.decode_pipeline(app.query_params["p"]).steps[0].params["fill_value"] == 1.0


def page_at(at: AppTest, page: str, browser: bool = False) -> AppTest:
    """Switch ``at`` to ``page``. ``browser``: as a browser switches, its request carrying none of the last
    page's widgets, so Streamlit drops them before the new page runs."""
    at.switch_page(f"pages/{page}.py")
    if browser:
        at._run(WidgetStates())
    else:
        at.run()
    assert not at.exception, page
    return at


def test_every_setting_survives_a_round_trip_through_every_page(app):
    open_panel(app, "0.open").slider(key="0.degrees").set_value((-28.0, 28.0)).run()
    app.sidebar.number_input(key="seed").set_value(7).run()
    app.sidebar.slider(key="n_draws").set_value(8).run()
    app.toggle(key="exact").set_value(True).run()
    grid = grid_urls(app)
    page_at(app, "train").sidebar.select_slider(key="t_steps").set_value(250).run()
    page_at(app, "runs")
    page_at(app, "gradients").sidebar.slider(key="g_depth").set_value(12).run()
    page_at(app, "explore")
    assert app.sidebar.number_input(key="seed").value == 7
    assert app.sidebar.slider(key="n_draws").value == 8
    assert app.slider(key="0.degrees").value == (-28.0, 28.0)
    assert app.toggle(key="exact").value is True
    assert grid_urls(app) == grid
    assert page_at(app, "train").sidebar.select_slider(key="t_steps").value == 250
    # Train trains with Explore's pipeline as it is now
    assert share.decode_pipeline(app.query_params["p"]).steps[0].params["degrees"] == (-28.0, 28.0)
    assert page_at(app, "gradients").sidebar.slider(key="g_depth").value == 12


def test_a_steps_value_survives_a_browser_page_switch(app):
    # Streamlit dropped the slider on the switch; its key then read as the step's default (seeded through
    # session state before the slider took it over), and the kept value was not written back.
    open_panel(app, "0.open").slider(key="0.degrees").set_value((-15.0, 28.0)).run()
    app.sidebar.number_input(key="seed").set_value(7).run()
    app.sidebar.slider(key="n_draws").set_value(8).run()
    assert share.decode_pipeline(page_at(app, "train", browser=True).query_params["p"]).steps[0].params["degrees"] == (
        -15.0, 28.0)
    page_at(app, "explore", browser=True)
    pipeline = share.decode_pipeline(app.query_params["p"])
    assert pipeline.steps[0].params["degrees"] == (-15.0, 28.0) and pipeline.seed == 7
    assert app.query_params["n"] == "8" and app.slider(key="0.degrees").value == (-15.0, 28.0)


def test_a_steps_lost_key_takes_the_pipelines_value_not_the_default(app):
    open_panel(app, "0.open").slider(key="0.degrees").set_value((-15.0, 28.0)).run()
    app.session_state["0.open"] = False
    app.run()
    del app.session_state["0.degrees"]  # lost anyway, kept copy too: the pipeline the page showed wins
    del app.session_state["_state.kept"]["0.degrees"]
    app.run()
    assert share.decode_pipeline(app.query_params["p"]).steps[0].params["degrees"] == (-15.0, 28.0)
    assert expander_labels(app)[0] == "1. Rotation"


def test_a_link_to_explore_reproduces_the_view(app):
    open_panel(app, "0.open").slider(key="0.degrees").set_value((-40.0, 40.0)).run()
    app.sidebar.slider(key="n_draws").set_value(8).run()
    app.sidebar.selectbox(key="image").set_value("scene").run()
    open_panel(app, "formulas_open").toggle(key="exact").set_value(True).run()
    receiver = fresh(dict(app.query_params))
    assert grid_urls(receiver) == grid_urls(app) and len(grid_urls(receiver)) == 8
    assert captions(receiver) == captions(app)
    assert receiver.toggle(key="exact").value is True and len(receiver.latex) == len(SEED_PIPELINE.steps)
    assert receiver.sidebar.selectbox(key="image").value == "scene"


def test_links_to_train_and_gradients_reproduce_their_forms(app):
    open_panel(app, "0.open").slider(key="0.degrees").set_value((-33.0, 33.0)).run()
    page_at(app, "train").sidebar.select_slider(key="t_steps").set_value(500).run()
    app.sidebar.select_slider(key="t_batch").set_value(128).run()
    receiver = fresh(dict(app.query_params), "train")
    assert receiver.sidebar.select_slider(key="t_steps").value == 500
    assert receiver.sidebar.select_slider(key="t_batch").value == 128
    assert share.decode_pipeline(receiver.query_params["p"]).steps[0].params["degrees"] == (-33.0, 33.0)
    assert dict(receiver.query_params) == dict(app.query_params)

    page_at(app, "gradients").sidebar.slider(key="g_depth").set_value(9).run()
    receiver = fresh(dict(app.query_params), "gradients")
    assert receiver.sidebar.slider(key="g_depth").value == 9
    assert dict(receiver.query_params) == dict(app.query_params)


@pytest.mark.parametrize(("value", "says"), [("1" + "0" * 400, "too large"), ("1e999", "too large"),
                                         ("1000", "did not fit"), ("[[[1]]]", "nested")])
def test_a_link_value_no_control_can_hold_is_dropped_with_a_message(value, says):
    at = fresh({"n": value})
    assert says in " ".join(w.value for w in at.warning)
    assert len(grid_urls(at)) == 16  # the page works, with the default


def test_a_huge_integer_in_a_links_pipeline_or_pasted_json_is_a_message(app):
    doc = {"version": 1, "steps": [{"transform": "rotation", "p": 10 ** 400}]}
    at = fresh({"p": share.pack(doc)})
    assert "was not used" in at.warning[0].value
    open_panel(app, "export_open").text_area(key="import_text").input(json.dumps(doc)[:-3] + "1" * 5000 + "}]}")
    app.button(key="import_load").click().run()
    assert not app.exception and "was not imported" in app.error[0].value


def test_a_preview_over_the_work_budget_is_refused_with_what_to_lower():
    heavy = Pipeline(tuple(Step("elastic", {"alpha": (200.0, 200.0), "sigma": (20.0, 20.0)}, 1.0)
                           for _ in range(32)))
    at = fresh(share.encode(share.SharedState(heavy, "test_card")))
    assert "Show at most" in at.error[0].value and "Elastic" in at.error[0].value
    assert not at.get("image")


def test_an_uploaded_picture_is_said_not_to_travel_in_the_link(app):
    import torch
    app.session_state["upload_image"] = torch.rand(3, 40, 60)
    app.session_state["image"] = "upload"
    app.run()
    assert app.query_params["img"] == "upload"  # the receiver is told that no picture is uploaded yet
    assert any("cannot travel in a link" in w.value for w in app.warning)


def test_user_text_in_messages_never_becomes_a_link():
    text = "http://2130706433:8612/reset www.example.com a@b.c"
    escaped = common.md_escape(text)
    assert "://" not in escaped and "www." not in escaped and "a@b" not in escaped
    assert escaped.replace("\\", "") == text
