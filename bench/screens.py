"""Screenshots of every page at the sizes a lecture meets: 1366×768, 1920×1080 and an 800-px-wide window.

Each page (and Explore in presentation mode) is opened in a fresh browser context at each size, waited for until
the app is idle, and saved as docs/<page>-<width>.png (the whole page, not only the first screen).

Usage: python -m bench.screens [--out docs] [--home DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, streamlit_server

SIZES = ((1366, 768), (1920, 1080), (800, 1000))
PAGES = {"explore": "Explore augmentations", "explore?show=true": "Explore augmentations", "train": "Train",
         "runs": "Runs", "gradients": "Vanishing and exploding gradients"}
IDLE = "() => !document.querySelector('[data-testid=stStatusWidget]')"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--home", help="AUGVIZ_HOME with runs to show (default: an empty one)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as empty, streamlit_server({"AUGVIZ_HOME": args.home or empty}) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width, height in SIZES:
            for path, title in PAGES.items():
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                page.goto(f"{url}/{path.removeprefix('explore')}")
                page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
                page.wait_for_timeout(1000)
                page.wait_for_function(IDLE, timeout=60_000)
                page.wait_for_timeout(1500)
                target = out / f"{path.replace('?show=true', '-presentation')}-{width}.png"
                page.screenshot(path=target, full_page=True)
                print(target)
                context.close()
        browser.close()


if __name__ == "__main__":
    main()
