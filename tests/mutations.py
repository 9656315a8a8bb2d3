"""Deliberate breakages, and the tests that catch them: a check that the suite fails when behaviour breaks.

Each mutation replaces one exact piece of source text in a temporary copy of the working tree (tracked and
untracked, not ignored, files), runs the test files that speak for that behaviour, and reports which tests
failed. A mutation that no test catches, or whose text is no longer in the source (the code moved: update the
mutation), is reported as such and makes the script exit with status 1.

Run on demand, not in CI (it runs the core test files once per mutation, some minutes on two cores):

    python tests/mutations.py                 # every mutation; prints a Markdown table
    python tests/mutations.py hue-sign p-ignored

pytest does not collect this file (its name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ("tests/test_transform_reference.py", "tests/test_transform_contract.py", "tests/test_pipeline.py")
CORNERS = ("tests/test_corners.py",)  # the corners a wrong change once slipped past


@dataclass(frozen=True)
class Mutation:
    """Replace ``old`` (which must occur exactly once in ``path``) by ``new``, then run ``tests``."""

    key: str
    label: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...] = CORE


MUTATIONS = (
    Mutation("cutmix-lambda-zero", "CutMix λ forced to 0", "augviz/transforms/mixing.py",
             "return 1 - self._mask(params, applied, height, width",
             "return 0 * self._mask(params, applied, height, width"),
    Mutation("mixing-off-in-training", "mixing switched off in the training loop", "augviz/train.py",
             "mixing = pipeline is not None and any(", "mixing = False and pipeline is not None and any(",
             ("tests/test_train_mixing.py", "tests/test_train.py")),
    Mutation("randaugment-rotation-div-10", "RandAugment rotation magnitude divided by 10",
             "augviz/transforms/policies.py", "rotate=30.0", "rotate=3.0"),
    Mutation("hue-sign", "hue sign flipped", "augviz/functional/color.py",
             "h.add_(_col(shift * 6, x)[:, 0])", "h.sub_(_col(shift * 6, x)[:, 0])"),
    Mutation("rotation-sign", "rotation turns the other way", "augviz/transforms/geometric.py",
             "= t.cos(), t.sin(), -t.sin(), t.cos()", "= t.cos(), -t.sin(), t.sin(), t.cos()"),
    Mutation("translate-sign", "horizontal shift in the other direction", "augviz/transforms/geometric.py",
             'm[:, 0, 2], m[:, 1, 2] = d["tx"] * width, d["ty"] * height',
             'm[:, 0, 2], m[:, 1, 2] = -d["tx"] * width, d["ty"] * height'),
    Mutation("solarize-threshold", "solarize threshold raised by 0.05", "augviz/functional/color.py",
             "torch.where(x >= _col(threshold, x), 1 - x, x)", "torch.where(x >= _col(threshold, x) + 0.05, 1 - x, x)"),
    Mutation("p-ignored", "p ignored (every step always applies)", "augviz/pipeline.py",
             "applied = torch.rand(n, generator=sub) < step.p", "applied = torch.rand(n, generator=sub) < 1.0"),
    Mutation("noise-sigma-x2", "Gaussian noise sigma doubled", "augviz/transforms/noise.py",
             "return x.addcmul_(z.to(x.dtype), sigma)", "return x.addcmul_(z.to(x.dtype), 2 * sigma)",
             (*CORE, "tests/test_noise_fields.py")),
    Mutation("posterize-bits-off-by-one", "posterize keeps one bit less", "augviz/functional/color.py",
             "q = _col(2.0 ** (8 - bits.to(", "q = _col(2.0 ** (9 - bits.to("),
    Mutation("blur-sigma", "blur sigma 1.5× too wide", "augviz/functional/color.py",
             "(t[None] / sigma.to(torch.float64)[:, None])", "(t[None] / (1.5 * sigma.to(torch.float64))[:, None])"),
    Mutation("erasing-area-x2", "random erasing box twice the drawn area", "augviz/transforms/occlusion.py",
             'box(g, n, cfg["area"], cfg["ratio"])', 'box(g, n, tuple(2 * a for a in cfg["area"]), cfg["ratio"])'),
    Mutation("mixed-labels-kept-hard", "mixing leaves the labels unmixed", "augviz/transforms/mixing.py",
             "return lam * labels + (1 - lam) * labels[", "return labels + 0 * labels[",
             (*CORE, "tests/test_train_mixing.py")),
    Mutation("mix-with-itself", "mixing partners are the images themselves", "augviz/transforms/mixing.py",
             "return (torch.arange(n) + shift) % n", "return torch.arange(n) + 0 * shift"),
    Mutation("luma-weights", "luma as the plain mean of R, G, B", "augviz/functional/color.py",
             "_LUMA = (0.299, 0.587, 0.114)", "_LUMA = (1 / 3, 1 / 3, 1 / 3)"),
    Mutation("trivialaugment-narrow", "TrivialAugment on RandAugment's magnitudes", "augviz/transforms/policies.py",
             'apply_ops(x, TRIVIAL_WIDE, params["ops"]', 'apply_ops(x, RANDAUGMENT, params["ops"]'),
    Mutation("shear-about-centre", "policy shear about the centre, not the top-left corner",
             "augviz/transforms/policies.py", 'out["tx"] = m * s.shear * height / (2 * width)', 'out["tx"] = 0 * m'),
    Mutation("fusion-order", "fused warps composed in the wrong order", "augviz/functional/warp.py",
             "forward = m @ forward", "forward = forward @ m"),
    Mutation("step-not-validated", "Step accepts any setting", "augviz/pipeline.py",
             'object.__setattr__(self, "params", self.transform.validate(self.params, self.name))',
             'object.__setattr__(self, "params", {**self.transform.defaults(), **self.params})'),
    Mutation("flip-axis", "horizontal flip mirrors top to bottom", "augviz/transforms/geometric.py",
             'description = "Mirror left to right."\n    formula = r"x\' = -x"\n    axis = 0',
             'description = "Mirror left to right."\n    formula = r"x\' = -x"\n    axis = 1'),
    Mutation("verdict-open-interval", "an interval ending at exactly 0 counts as a difference",
             "augviz/experiment.py", "if ci is None or ci[0] <= 0 <= ci[1]:", "if ci is None or ci[0] < 0 < ci[1]:",
             CORNERS),
    Mutation("chance-line-height", "the chance line drawn at 10 % whatever the classes", "augviz/charts.py",
             "fig.add_hline(y=1 / classes,", "fig.add_hline(y=0.1,", CORNERS),
    Mutation("he-fan-out", "He initialisation scaled by fan-out", "augviz/deepnet.py",
             'nn.init.kaiming_normal_(w, a=0.01 if nonlin == "leaky_relu" else 0, nonlinearity=nonlin,',
             'nn.init.kaiming_normal_(w, a=0.01 if nonlin == "leaky_relu" else 0, nonlinearity=nonlin, mode="fan_out",',
             CORNERS),
    Mutation("steps-csv-layers-shifted", "the steps CSV's per-layer norms under the wrong layers", "augviz/report.py",
             'for n, v in zip(h.run.layers, m.grad_norms, strict=False)}',
             'for n, v in zip(h.run.layers, m.grad_norms[::-1], strict=False)}',
             CORNERS),
    Mutation("steps-limit-ignored", "the store's steps(limit) returns every step", "augviz/store/metric_rows.py",
             "max(1, -(-count // limit)) if limit else 1)", "1)", CORNERS),
    Mutation("exif-transpose-transverse", "EXIF orientations 5 and 7 swapped", "augviz/images.py",
             "5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE",
             "5: Image.Transpose.TRANSVERSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSPOSE",
             CORNERS),
    Mutation("exif-flip-axis", "EXIF orientation 2 flips top to bottom", "augviz/images.py",
             "_TURNS = {2: Image.Transpose.FLIP_LEFT_RIGHT,", "_TURNS = {2: Image.Transpose.FLIP_TOP_BOTTOM,",
             CORNERS),
    Mutation("exif-half-turn-as-flip", "EXIF orientations 3 (half turn) and 4 (flip top to bottom) swapped",
             "augviz/images.py", "3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,",
             "3: Image.Transpose.FLIP_TOP_BOTTOM, 4: Image.Transpose.ROTATE_180,", CORNERS),
    Mutation("exif-quarter-turns-swapped", "EXIF orientations 6 and 8 turn the wrong way", "augviz/images.py",
             "6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,\n          8: Image.Transpose.ROTATE_90}",
             "6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,\n          8: Image.Transpose.ROTATE_270}",
             CORNERS),
)


def tree_copy(dest: Path) -> None:
    """The working tree as git sees it (tracked and untracked files, ignored ones left out) under ``dest``."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def failing_tests(tree: Path, tests: tuple[str, ...]) -> tuple[list[str], str]:
    """The node ids of the tests that fail (or error) in ``tree``, and pytest's last line."""
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "--tb=no", "-rfE", "-p", "no:cacheprovider",
                          *tests], cwd=tree, capture_output=True, text=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out.stdout, flags=re.M)
    lines = out.stdout.strip().splitlines()
    return failed, lines[-1] if lines else out.stderr.strip()[-200:]


def short(nodes: list[str], limit: int = 4) -> str:
    """``file::test[param]`` ids grouped as ``file: test[a, b]``."""
    grouped: dict[str, list[str]] = {}
    for node in nodes:
        path, _, name = node.partition("::")
        test, _, param = name.partition("[")
        grouped.setdefault(f"{Path(path).name}::{test}", []).append(param.rstrip("]"))
    parts = []
    for test, params in list(grouped.items())[:limit]:
        params = [p for p in params if p]
        parts.append(f"`{test}`" + (f" [{', '.join(params[:3])}{', …' if len(params) > 3 else ''}]" if params else ""))
    more = len(grouped) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keys", nargs="*", help="run only these mutations (default: all)")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.keys or m.key in args.keys]
    unknown = set(args.keys) - {m.key for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutation(s): {', '.join(sorted(unknown))}")
    rows, missed = [], 0
    with tempfile.TemporaryDirectory(prefix="augviz-mutations-") as tmp:
        tree = Path(tmp)
        tree_copy(tree)
        for m in chosen:
            target = tree / m.path
            original = target.read_text() if target.is_file() else ""  # a file moved away: not applied
            start = time.perf_counter()
            if original.count(m.old) != 1:
                verdict, caught = "NOT APPLIED", f"the text occurs {original.count(m.old)} times in {m.path}"
                missed += 1
            else:
                target.write_text(original.replace(m.old, m.new))
                try:
                    failed, last = failing_tests(tree, m.tests)
                finally:
                    target.write_text(original)
                verdict = f"caught by {len(failed)}" if failed else "MISSED"
                caught = short(failed) if failed else last
                missed += not failed
            rows.append(f"| {m.label} (`{m.key}`) | {verdict} | {caught} |")
            print(f"{m.key}: {verdict} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    print("| breakage | verdict | failing tests |")
    print("|---|---|---|")
    print("\n".join(rows))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
