"""What the exported code says about calling it: torchvision's per-call draw and the per-image form that draws as
augviz does."""

from __future__ import annotations

import torch

from augviz.export import to_code
from augviz.preview import SEED_PIPELINE


def usage_lines(code: str, starting: str) -> list[str]:
    return [ln.removeprefix("# ") for ln in code.splitlines() if ln.startswith(f"# {starting}")]


def test_torchvision_code_says_a_batch_call_draws_once_and_shows_the_per_image_call():
    code = to_code(SEED_PIPELINE, "torchvision")
    assert "draws ONE set of parameters per call" in code and "every image in it" in code
    per_image = usage_lines(code, "out = torch.stack(")
    assert per_image == ["out = torch.stack([pipeline(image) for image in images])"]
    calls = []  # the form, run: one call per image, each on one C×H×W image, the batch put back together

    def pipeline(image: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(image.shape))
        return image

    images = torch.rand(5, 3, 8, 8)
    namespace = {"torch": torch, "pipeline": pipeline, "images": images}
    exec(per_image[0], namespace)
    assert calls == [(3, 8, 8)] * 5 and torch.equal(namespace["out"], images)
