"""The Explore page's export panel: its title names every target, and each target's code can be downloaded as a
file, as the JSON and the grid can."""

from __future__ import annotations

from augviz.export import TARGETS, file_name, targets_in_words
from tests.apptest import fresh


def test_the_panel_title_names_every_target_keras_included():
    at = fresh({})
    title = next(e.label for e in at.expander if e.label.startswith("Export and import"))
    assert "Keras" in title and targets_in_words() in title
    for target in TARGETS:
        assert target.lower() in title.lower()


def test_each_targets_code_has_a_download_button():
    at = fresh({})
    at.session_state["export_open"] = True
    at.run()
    for target in TARGETS:
        at.session_state["export_tab"] = target
        at.run()
        assert not at.exception
        buttons = {b.proto.label: b.proto for b in at.get("download_button")}
        button = buttons.get(f"Download {file_name(target)}")
        assert button is not None, sorted(buttons)
        assert button.url.endswith(".py")
