"""Captions of mixed draws say what the shown image is: the picture that dominates it comes first with its own
steps, the other one's share after it, in agreement with the mixed label; a draw that skipped mixing says
nothing of a partner; and the step-by-step strip says when draw 1 skipped the mixing step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from augviz import Pipeline, Step, images
from augviz.preview import SEED_PIPELINE, render

APP = str(Path(__file__).parents[1] / "app.py")
POOL = ("checkerboard", "text", "scene")
NAMES = ["Test card", "Checkerboard", "Text", "Landscape"]


def mixup_pipeline(p: float) -> Pipeline:
    """The article's pipeline and mixup; a small α makes most mixed draws nearly one picture."""
    return Pipeline((*SEED_PIPELINE.steps, Step("mixup", {"alpha": 0.2}, p)), seed=4)


def rendered(p: float, n: int = 32):
    card = images.to_tensor(images.builtin("test_card"))
    pool = torch.stack([images.to_tensor(images.builtin(k)) for k in POOL])
    return render(mixup_pipeline(p), card, n, pool, NAMES)


@pytest.fixture(scope="module")
def preview():
    """Mixup on every draw."""
    return rendered(1.0)


@pytest.fixture(scope="module")
def unmixed():
    """The same draws with mixup never applied (it is the last step: the steps before draw the same)."""
    return rendered(0.0)


def test_a_draw_that_is_mostly_its_partner_is_captioned_as_the_partner(preview, unmixed):
    mostly_partner = 0
    for i, (text, share) in enumerate(zip(preview.plain, preview.labels, strict=True)):
        own = round(100 * share.get("Test card", 0.0))
        if own >= 50:
            continue
        mostly_partner += 1
        partner = next(name for name in share if name != "Test card")
        assert text.startswith(f"{partner} {100 - own} % · "), text
        assert text.endswith(f"mixed with Test card {own} %"), text
        assert unmixed.plain[i].split(" · ")[0] not in text  # the own picture's steps are not what is seen
        # the partner's own rotation is (a turn that rounds to 0° has no arrow)
        assert re.search(r"(^| · )([↻↺] )?\d+°", text), text
    assert mostly_partner >= 3


def test_a_draw_that_is_mostly_itself_lists_its_steps_and_the_partners_share(preview, unmixed):
    mostly_own = 0
    for i, (text, share) in enumerate(zip(preview.plain, preview.labels, strict=True)):
        own = round(100 * share.get("Test card", 0.0))
        if own < 50:
            continue
        mostly_own += 1
        partner = next((name for name in share if name != "Test card"), None)
        assert text == f"{unmixed.plain[i]} · mixed with {partner} {100 - own} %" if partner else text.startswith(
            unmixed.plain[i]), text
    assert mostly_own >= 3


def test_the_exact_values_name_the_partner_not_its_batch_row(preview):
    for text, share in zip(preview.captions, preview.labels, strict=True):
        mixup = text.split("\n")[-1]
        named = mixup.split("partner=")[1].split(" lam=")[0]
        assert mixup.startswith("mixup ") and named in NAMES[1:], mixup
        assert set(share) <= {"Test card", named}  # the partner the label was mixed with


def test_a_draw_that_skipped_mixing_names_no_partner(unmixed):
    assert all("mixed" not in text for text in unmixed.plain)
    assert all(share == {"Test card": 1.0} for share in unmixed.labels)
    frame = unmixed.strip[-1]
    assert frame.mixing and frame.partner is None and frame.p == 0.0


def test_the_strip_says_when_draw_1_skipped_mixing():
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.sidebar.selectbox(key="add_choice").set_value("mixup")
    at.sidebar.button(key="add_step").click().run()
    at.session_state["4.open"] = True
    at.run()
    at.sidebar.slider(key="4.p").set_value(0.0).run()
    strip = [img.caption.replace("\\", "") for img in at.get("image")[1].proto.imgs]
    assert strip[-1] == "5. Mixup: skipped for this draw (p = 0); nothing mixed in"
    assert not any(c.startswith("mixed in:") for c in strip)
