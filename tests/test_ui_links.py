"""Links with values no control can hold: each is left out with a message that names it, on every page, and the
page works with the control's own value; a good seed in a link is used."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import fresh

SEED_KEYS = {"explore": "seed", "train": "t_seed", "gradients": "g_seed"}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGVIZ_HOME", str(tmp_path))


def warnings(at: AppTest) -> str:
    return " ".join(w.value.replace("\\", "") for w in at.warning)


@pytest.mark.parametrize("page", list(SEED_KEYS))
@pytest.mark.parametrize("value", ["1e999", "-1e999", "NaN", "-5", "3000000000", "1e20", "2.5", "true", "seven"])
def test_a_seed_no_input_can_hold_is_left_out_with_a_message(page, value):
    at = fresh({"seed": value}, page)
    assert "The link's value for seed was not used" in warnings(at)
    assert at.sidebar.number_input(key=SEED_KEYS[page]).value == 0  # the input's own value, the page works
    assert at.query_params["seed"] == "0"  # and the address says what is shown


@pytest.mark.parametrize("page", list(SEED_KEYS))
def test_a_good_seed_in_a_link_is_used(page):
    at = fresh({"seed": "7"}, page)
    assert at.sidebar.number_input(key=SEED_KEYS[page]).value == 7 and not warnings(at)
    assert at.query_params["seed"] == "7"


def test_a_seed_in_an_explore_link_changes_the_draws():
    plain, seeded = fresh({}), fresh({"seed": "7"})
    def draws(at: AppTest) -> list[str]:
        return [i.url for i in at.get("image")[0].proto.imgs[1:]]

    assert draws(plain) != draws(seeded)


@pytest.mark.parametrize(("page", "query", "value", "named"), [
    ("explore", "n", "abc", "n (number of draws)"), ("explore", "n", "1000", "n (number of draws)"),
    ("train", "size", "7", "size (training images)"), ("gradients", "depth", "x", "depth (weight layers)")])
def test_a_value_a_control_refused_is_named_by_its_address_key_label_and_value(page, query, value, named):
    at = fresh({query: value}, page)
    text = warnings(at)
    assert f"The link's value for {named} was not used: “{value}” did not fit that control" in text, text
    assert "n_draws" not in text and "t_size" not in text and "g_depth" not in text  # no internal key


GRADIENTS_CONTROLS = {"kind": "g_kind", "width": "g_width", "activation": "g_activation", "init": "g_init",
                      "init_std": "g_init_std", "batchnorm": "g_batchnorm", "residual": "g_residual", "opt": "g_opt",
                      "lr": "g_lr", "clip_on": "g_clip_on", "clip": "g_clip", "dataset": "g_dataset",
                      "epochs": "g_epochs", "size": "g_size", "preset": "g_preset"}


@pytest.mark.parametrize("query", list(GRADIENTS_CONTROLS))
@pytest.mark.parametrize("value", ["fix1", "999", "null"])
def test_a_gradients_link_value_no_control_offers_is_left_out_alone_and_the_page_works(query, value):
    at = fresh({query: value, "depth": "12"}, "gradients")  # fresh() asserts no exception
    assert f"“{value}” did not fit that control" in warnings(at)
    assert at.session_state["g_depth"] == 12  # the link's good values are used
    key = GRADIENTS_CONTROLS[query]
    assert key not in at.session_state or at.session_state[key] not in (value, 999)


def test_the_reviewers_gradients_link_with_a_bad_preset_keeps_its_network():
    at = fresh({"preset": "fix1", "init": "he", "kind": "cnn", "depth": "10"}, "gradients")
    text = warnings(at)
    assert "The link's value for preset was not used: “fix1” did not fit that control" in text
    assert "The link's value for init (initialisation) was not used: “he” did not fit that control" in text
    assert at.session_state["g_kind"] == "cnn" and at.session_state["g_depth"] == 10
    assert at.metric[0].value  # the analysis at initialisation is drawn


@pytest.mark.parametrize(("query", "value", "named", "instead"), [
    ("batch", "7", "batch size", "64"), ("steps", "123", "steps (training steps)", "1000"),
    ("lr", "abc", "lr (learning rate)", "0.003"), ("lr", "0.002", "lr (learning rate)", "0.003"),
    ("size", "260", "size (training images)", "2000"), ("size", "0", "size (training images)", "2000"),
    ("val", "0.33", "val (validation fraction)", "0.1"), ("wd", "0.5", "wd (weight decay)", "0"),
    ("opt", "rmsprop", "opt (optimizer)", "adam"), ("device", "tpu", "device", "auto"),
    ("precision", "half", "precision", "auto"), ("dataset", "imagenet", "dataset", "synthetic"),
    ("aug", "maybe", "aug (augment with the Explore page's pipeline)", "on")])
def test_a_train_link_value_its_control_refuses_is_named_with_the_value_used_instead(query, value, named, instead):
    at = fresh({query: value, "seed": "5"}, "train")
    text = warnings(at)
    assert f"The link's value for {named} was not used: “{value}” did not fit that control" in text, text
    assert f"the page uses “{instead}” instead" in text, text
    assert at.query_params[query] != value  # the address says what is shown
    assert at.sidebar.number_input(key="t_seed").value == 5  # the link's good values are used


def test_a_refused_epoch_count_says_the_slider_keeps_its_own_value():
    at = fresh({"by_epochs": "true", "epochs": "0"}, "train")
    assert "The link's value for epochs was not used: “0” did not fit that control" in warnings(at)
    assert "the page uses “10” instead" in warnings(at)


@pytest.mark.parametrize(("query", "value", "key", "taken"), [
    ("batch", "128", "t_batch", 128), ("steps", "10", "t_steps", 10), ("lr", "0.01", "t_lr", 0.01),
    ("lr", "1e-4", "t_lr", 1e-4), ("size", "250", "t_size", 250), ("val", "0.15", "t_val", 0.15),
    ("wd", "0.0001", "t_wd", 1e-4), ("opt", "sgd", "t_opt", "sgd"), ("aug", "false", "t_aug", False),
    ("by_epochs", "true", "t_by_epochs", True)])
def test_a_train_link_value_its_control_offers_is_taken_without_a_word(query, value, key, taken):
    at = fresh({query: value}, "train")
    assert at.session_state[key] == taken and not warnings(at)


def test_a_refused_value_without_one_in_its_place_leaves_the_address():
    at = fresh({"dataset": "folder", "image_size": "17"}, "train")
    assert "“17” did not fit that control (not one of that control's choices: null, 16, 28" in warnings(at)
    assert "the page uses the control's default instead" in warnings(at)
    assert "image_size" not in at.query_params  # a reload would not bring it back


@pytest.mark.parametrize(("query", "value", "named", "instead"), [
    ("n", "1000", "n (number of draws)", "16"), ("n", "0", "n (number of draws)", "16"),
    ("show", "maybe", "show (presentation mode)", "off"), ("exact", "2", "exact values", "off")])
def test_an_explore_link_value_its_control_refuses_leaves_the_links_good_values_in_use(query, value, named, instead):
    at = fresh({query: value, "seed": "7"})
    text = warnings(at)
    assert f"The link's value for {named} was not used: “{value}” did not fit that control" in text, text
    assert f"the page uses “{instead}” instead" in text, text
    assert "for seed" not in text and at.sidebar.number_input(key="seed").value == 7  # not dropped with it
