"""The Explore page's computations without a UI: draws that do not depend on how many are shown, captions in plain
words for every transform, mixing with augmented partners, and the work budget."""

from __future__ import annotations

import pytest
import torch

from augviz import REGISTRY, Pipeline, Step, images
from augviz.captions import CAPTIONS, NBSP, caption, keep_values_whole, mixed
from augviz.preview import (
    BUDGET,
    SEED_PIPELINE,
    SIGMA_COST,
    STEP_COST,
    OverBudget,
    check_budget,
    cost,
    render,
    step_cost,
)


@pytest.fixture(scope="module")
def card() -> torch.Tensor:
    return images.to_tensor(images.builtin("test_card"))


@pytest.fixture(scope="module")
def pool() -> torch.Tensor:
    return torch.stack([images.to_tensor(images.builtin(n)) for n in ("checkerboard", "text", "scene")])


NOISY = Pipeline((*SEED_PIPELINE.steps, Step("gaussian_noise", {}, 0.5), Step("mixup", {}, 0.5)), seed=5)


def test_draw_i_is_the_same_whatever_the_number_of_draws(card, pool):
    one, eight, all_ = (render(NOISY, card, n, pool) for n in (1, 8, 64))
    assert torch.equal(one.draws[0], eight.draws[0]) and torch.equal(one.draws[0], all_.draws[0])
    assert torch.equal(eight.draws, all_.draws[:8])
    assert one.plain[0] == all_.plain[0] and one.labels[0] == all_.labels[0]
    assert not torch.equal(all_.draws[0], all_.draws[1])


def test_the_seed_changes_every_draw(card):
    a, b = render(SEED_PIPELINE, card, 4), render(Pipeline(SEED_PIPELINE.steps, seed=1), card, 4)
    assert all(not torch.equal(x, y) for x, y in zip(a.draws, b.draws, strict=True))


def test_every_transform_has_a_plain_caption():
    # From its rule in augviz/captions.py, or, for an entry without one, from its spec.
    for name in REGISTRY:
        draw = Pipeline((Step(name, {}, 1.0),)).sample(1, torch.Generator().manual_seed(0))[0]
        text = caption(name, draw.rows()[0])
        assert text and "=" not in text and "_" not in text, (name, text)


def test_an_entry_without_a_caption_rule_is_captioned_from_its_spec(monkeypatch):
    monkeypatch.delitem(CAPTIONS, "rotation")
    monkeypatch.delitem(CAPTIONS, "gaussian_noise")
    # Each range setting drawn under its own name is shown; other draws (a seed, an angle) are not.
    assert caption("gaussian_noise", {"sigma": 0.04321, "seed": 7}) == "Gaussian noise sigma 0.0432"
    assert caption("rotation", {"angle": -12.7}) == "Rotation"
    assert caption("invert", {}) == "inverted"  # a rule, where there is one, still wins


def test_plain_captions_read_like_the_issue_asks():
    assert caption("rotation", {"angle": -12.7}) == "↻ 13°"  # clockwise, as the picture turns
    assert caption("rotation", {"angle": 14.1}) == "↺ 14°"  # positive is counter-clockwise
    assert caption("affine", {"tx": 0.08, "ty": -0.02, "scale": 1.0, "shear_x": 0.0, "shear_y": 0.0}) \
        == "shift +8 %, −2 %"
    assert caption("zoom", {"zoom_x": 0.98, "zoom_y": 0.98}) == "zoom 0.98"
    assert caption("horizontal_flip", {"flipped": True}) == "flipped"
    assert caption("horizontal_flip", None) == ""


def test_a_value_that_rounds_to_zero_has_no_sign_and_no_direction():
    assert caption("rotation", {"angle": 0.4}) == "0°" and caption("rotation", {"angle": -0.3}) == "0°"
    assert caption("affine", {"tx": -0.004, "ty": 0.003, "scale": 1.0, "shear_x": 0.0, "shear_y": 0.0}) \
        == "shift 0 %, 0 %"
    assert caption("hue", {"shift": -0.001}) == "hue 0°"
    assert caption("rotation", {"angle": -0.6}) == "↻ 1°"  # what rounds to 1 keeps its direction


@pytest.mark.parametrize("name", ["Test card", "Checkerboard", "Text", "Landscape", "your picture"])
@pytest.mark.parametrize(("step", "own"), [("mixup", 0.7), ("cutmix", 0.2)])
def test_a_caption_breaks_between_words_and_keeps_each_value_whole(name, step, own):
    parts = ["↺ 4°", "shift +6 %, −2 %", "zoom 0.91 × 0.97", "blur 1.5 px", "4 bits"]
    kept = keep_values_whole(" · ".join(mixed(step, parts, "Test card", parts, name, own)))
    for value in ("↺ 4°", "+6 %", "−2 %", "0.91 × 0.97", "1.5 px", "4 bits", "30 %" if own > 0.5 else "80 %"):
        assert value.replace(" ", NBSP) in kept
    # Breakable spaces are left between words: the longest unbreakable run is a word or a value, never a name
    # glued to its share ("Landscape 30 %", which a narrow tile could only break inside the word).
    assert max(len(run) for run in kept.split(" ")) <= len("Checkerboard")


def test_the_mixing_partner_is_another_picture_through_the_same_earlier_steps(card, pool):
    pipe = Pipeline((Step("vertical_flip", {}, 1.0), Step("mixup", {"alpha": 1.0}, 1.0)), seed=3)
    preview = render(pipe, card, 4, pool, ["test card", "checkerboard", "text", "landscape"])
    frame = preview.strip[1]
    j = ["checkerboard", "text", "landscape"].index(frame.partner_name)
    torch.testing.assert_close(frame.partner, pool[j].flip(-2))  # flipped like the draw, not a clean picture
    lam = frame.weight
    torch.testing.assert_close(frame.image, lam * card.flip(-2) + (1 - lam) * pool[j].flip(-2))
    assert preview.labels[0] == pytest.approx({"test card": lam, frame.partner_name: 1 - lam})


def test_without_a_pool_a_draw_mixes_with_another_draw_of_its_own_picture(card):
    preview = render(Pipeline((Step("rotation", {}, 1.0), Step("mixup", {}, 1.0))), card, 3)
    assert preview.strip[1].partner is not None and preview.labels[0] == pytest.approx({"this picture": 1.0})


def test_previews_over_the_budget_are_refused_with_what_to_lower(card):
    check_budget(SEED_PIPELINE, 256, 256, 64)
    elastic = Pipeline(tuple(Step("elastic", {"alpha": (200.0, 200.0), "sigma": (20.0, 20.0)}) for _ in range(32)))
    with pytest.raises(OverBudget, match=r"Show at most \d+ draws.*Elastic"):
        check_budget(elastic, 256, 256, 16)
    blur = Pipeline(tuple(Step("gaussian_blur", {"sigma": (10.0, 10.0)}) for _ in range(32)))
    assert cost(blur, 256, 256, 64) > BUDGET
    with pytest.raises(ValueError, match="between 1 and 64 draws"):
        render(SEED_PIPELINE, card, 65)


def test_a_transform_states_its_own_cost_where_the_measured_table_has_none(monkeypatch):
    assert "jpeg" not in STEP_COST and step_cost(Step("jpeg")) == REGISTRY["jpeg"].cost  # stated in its own file
    monkeypatch.setattr(type(REGISTRY["jpeg"]), "cost", 4.0)
    assert step_cost(Step("jpeg")) == 4.0
    assert step_cost(Step("elastic")) == STEP_COST["elastic"] + SIGMA_COST["elastic"] * 6.0  # the table wins
