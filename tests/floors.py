"""Check that the dependency floors in pyproject.toml are true: install exactly those versions, run the tests.

pyproject.toml states the oldest versions augviz and its app extra run on (``name>=X``). This script makes a
fresh virtual environment, installs each dependency at its floor (``name==X``) together with the test tools from
requirements-dev.txt, and runs the test files below there: the library, the Streamlit pages through AppTest,
uploads and charts. torch's floor is the version requirements.txt pins (the only one this project's machines
install cheaply: other versions pull a multi-gigabyte CUDA build).

Run on demand, not in CI (it downloads a few hundred megabytes from PyPI once; later runs reuse pip's cache):

    python tests/floors.py [--keep DIR]

pytest does not collect this file (its name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ("tests/test_pipeline.py", "tests/test_transform_reference.py", "tests/test_serialize.py",
         "tests/test_images.py", "tests/test_app_explore.py", "tests/test_app_train.py")
TOOLS = ("pytest", "hypothesis")  # at the versions requirements-dev.txt pins


def floors() -> list[str]:
    """Each pyproject dependency, the library's and the app extra's, pinned at its floor: ``streamlit>=1.55``
    becomes ``streamlit==1.55``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = [*project["dependencies"], *project["optional-dependencies"]["app"]]
    pins = []
    for dep in deps:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)(?:\s*,.*)?", dep)
        if not m:
            raise SystemExit(f"pyproject dependency {dep!r} has no '>=' floor to check")
        pins.append(f"{m.group(1)}=={m.group(2)}")
    return pins


def dev_pins() -> list[str]:
    lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("==")[0].strip() in TOOLS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", help="build the environment in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="augviz-floors-") as tmp:
        env = Path(args.keep or tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        py = str(env / "bin" / "python")
        pins = floors() + dev_pins()
        print("installing:", " ".join(pins), flush=True)
        subprocess.run([py, "-m", "pip", "install", "-q", *pins], check=True)
        shown = subprocess.run([py, "-m", "pip", "freeze"], check=True, capture_output=True, text=True).stdout
        wanted = {p.split("==")[0].lower() for p in floors()}
        print("installed:", ", ".join(line for line in shown.splitlines() if line.split("==")[0].lower() in wanted))
        return subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
