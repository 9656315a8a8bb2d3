"""Run an exported pipeline in its library on a float batch B×C×H×W and give back the same layout (for tests)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 exports run on the torch backend: no TensorFlow here


def build(code: str, target: str):
    """Execute exported source and return its ``pipeline`` object."""
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, f"<{target} export>", "exec"), ns)
    return ns["pipeline"]


def run(pipeline, target: str, x: torch.Tensor) -> torch.Tensor:
    """``pipeline`` (built by ``build``) on ``x`` (B×C×H×W float in [0, 1]), as B×C×H×W float."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if target == "kornia":
            return pipeline(x).float()
        if target == "albumentations":
            u8 = (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
            out = np.stack([pipeline(image=im)["image"] for im in u8])
            return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255
        if target == "keras":
            # A torch tensor, not a numpy array: Keras' torch backend converts numpy inputs slowly (4× here).
            out = pipeline(x.permute(0, 2, 3, 1).contiguous(), training=True)
            return torch.as_tensor(out).detach().cpu().permute(0, 3, 1, 2).float()
    raise ValueError(target)
