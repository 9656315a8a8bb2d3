"""A pipeline as runnable Python code for augviz, torchvision.transforms.v2, albumentations, kornia and Keras 3.

The per-target tables in ``augviz.exports`` say how each registry entry reads in each library; this module adds
the imports and the container, puts each step's note in a comment after its line, and lists as comments the
steps a library cannot express. A registry entry that a table has no line for yet (a new transform) is one of
those: the exported code runs without it and says so.
"""

from __future__ import annotations

from augviz import serialize
from augviz.exports import Line, Target, albumentations, keras, kornia, torchvision
from augviz.pipeline import Pipeline, Step

LIBRARIES: dict[str, Target] = {t.name: t for t in (torchvision.TARGET, albumentations.TARGET, kornia.TARGET,
                                                     keras.TARGET)}
TARGETS = ("augviz", *LIBRARIES)
NAMES = {"augviz": "augviz", "torchvision": "torchvision", "albumentations": "albumentations", "kornia": "kornia",
         "keras": "Keras"}  # each target as its makers write it


def file_name(target: str) -> str:
    """The name a target's exported code is downloaded as: ``pipeline_keras.py``."""
    return f"pipeline_{target}.py"


def targets_in_words() -> str:
    """Every export target, as a sentence lists them: "augviz, torchvision, albumentations, kornia and Keras"."""
    names = [NAMES.get(t, t) for t in TARGETS]
    return ", ".join(names[:-1]) + " and " + names[-1]


def line(step: Step, target: str) -> Line:
    """``step`` in ``target``: its constructor call (None if the library has no counterpart) and its note."""
    writer = LIBRARIES[target].table.get(step.name)
    if writer is None:
        return not_yet(step.name, target)
    return writer(step.params, round(step.p, 4))


# The note of a step no line is written for yet (in the exported code, after "# <step>: left out, "): for the user.
NOT_YET = "this export has no equivalent line for it yet; the rest runs without it"


def not_yet(name: str, target: str) -> Line:
    """The line of an entry ``target``'s table does not cover (yet): left out, with a note that says so (to the
    user who runs the code; the missing line belongs in augviz/exports/<target>.py)."""
    return Line(None, NOT_YET)


def to_code(pipeline: Pipeline, target: str, size: tuple[int, int] = (32, 32), num_classes: int = 10) -> str:
    """Python source that builds ``pipeline`` in ``target``; ``size`` and ``num_classes`` fill the crop/mix steps."""
    if target not in TARGETS:
        raise ValueError(f"unknown export target {target!r} (known: {', '.join(TARGETS)})")
    if target == "augviz":
        return _augviz(pipeline)
    lib = LIBRARIES[target]
    steps = [s for s in pipeline.steps if s.enabled]
    lines, missing = [], []
    for step in steps:
        out = line(step, target)
        if out.code is None:
            missing.append(f"# {step.name}: left out, {out.note}")
        else:
            # The note goes after the comma, where it cannot comment out a bracket of the call.
            lines.append(f"    {out.code},  # {out.note}" if out.note else f"    {out.code},")
    body = "\n".join(lines) if lines else lib.empty
    parts = [lib.header, f"SIZE = {tuple(size)}\nNUM_CLASSES = {num_classes}\n"]
    if missing:
        parts.append("# Not expressible here:\n" + "\n".join(missing) + "\n")
    if target == "keras":
        generator = keras.image_data_generator([(s.name, s.params, s.p) for s in steps])
        if generator:
            parts.append("# The same pipeline in Keras 2's ImageDataGenerator (removed in Keras 3):\n"
                         f"# from keras.preprocessing.image import ImageDataGenerator\n# datagen = {generator}\n")
    parts.append(f"pipeline = {lib.open}\n{body}\n{lib.close}\n")
    parts.append(lib.usage + "\n")
    return "\n".join(parts)


def _augviz(pipeline: Pipeline) -> str:
    doc = serialize.dumps(pipeline, indent=2)
    return (
        "import torch\n\nfrom augviz import serialize\n\n"
        f"pipeline = serialize.loads(r'''{doc}''')\n\n"
        "# images: uint8 or float tensor B×C×H×W, on CPU or GPU\n"
        "# out = pipeline(images, torch.Generator().manual_seed(0))\n"
    )
