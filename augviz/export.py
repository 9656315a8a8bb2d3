"""A pipeline as runnable Python code for augviz, torchvision.transforms.v2, albumentations and kornia.

Each registry entry says how it reads in each library (``Transform.to_code``); this module adds the imports and
the container, and lists as comments the steps a library cannot express.
"""

from __future__ import annotations

from augviz import serialize
from augviz.pipeline import Pipeline

TARGETS = ("augviz", "torchvision", "albumentations", "kornia")

_HEADER = {
    "torchvision": "import torch\nfrom torchvision.transforms import v2\n",
    "albumentations": "import albumentations as A\nimport cv2\n",
    "kornia": "import kornia\nimport kornia.augmentation as K\n",
}
_OPEN = {"torchvision": "v2.Compose([", "albumentations": "A.Compose([", "kornia": "K.AugmentationSequential("}
_CLOSE = {"torchvision": "])", "albumentations": "])", "kornia": ")"}
# torchvision refuses an empty Compose; the others take one.
_EMPTY = {"torchvision": "    v2.Identity(),  # no step this library can express"}
_USAGE = {
    "torchvision": "# images: uint8 or float tensor B×C×H×W (or one C×H×W image)\n# out = pipeline(images)",
    "albumentations": "# image: H×W×C uint8 numpy array, one at a time as a DataLoader would pass it\n"
                      "# out = pipeline(image=image)['image']",
    "kornia": "# images: float tensor B×C×H×W in [0, 1]\n# out = pipeline(images)",
}


def to_code(pipeline: Pipeline, target: str, size: tuple[int, int] = (32, 32), num_classes: int = 10) -> str:
    """Python source that builds ``pipeline`` in ``target``; ``size`` and ``num_classes`` fill the crop/mix steps."""
    if target not in TARGETS:
        raise ValueError(f"unknown export target {target!r} (known: {', '.join(TARGETS)})")
    if target == "augviz":
        return _augviz(pipeline)
    lines, missing = [], []
    for step in pipeline.steps:
        if not step.enabled:
            continue
        t = step.transform
        code = t.to_code(target, step.params, round(step.p, 4))
        if code is None:
            missing.append(f"# {step.name}: left out, {t.export_notes.get(target, f'no {target} counterpart')}")
        else:
            expr, _, note = code.partition("  # ")
            lines.append(f"    {expr},  # {note}" if note else f"    {expr},")
    body = "\n".join(lines) if lines else _EMPTY.get(target, "    # (no step this library can express)")
    parts = [_HEADER[target], f"SIZE = {size}\nNUM_CLASSES = {num_classes}\n"]
    if missing:
        parts.append("# Not expressible here:\n" + "\n".join(missing) + "\n")
    parts.append(f"pipeline = {_OPEN[target]}\n{body}\n{_CLOSE[target]}\n")
    parts.append(_USAGE[target] + "\n")
    return "\n".join(parts)


def _augviz(pipeline: Pipeline) -> str:
    doc = serialize.dumps(pipeline, indent=2)
    return (
        "import torch\n\nfrom augviz import serialize\n\n"
        f"pipeline = serialize.loads(r'''{doc}''')\n\n"
        "# images: uint8 or float tensor B×C×H×W, on CPU or GPU\n"
        "# out = pipeline(images, torch.Generator().manual_seed(0))\n"
    )
