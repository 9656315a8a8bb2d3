"""The Gradients page in a real browser: clicking each preset shows the verdict it is named for, and the
gradient chart's log axis reads as powers of ten in large dark text."""

from __future__ import annotations

import os
import re

import pytest

from augviz.gradlab import PRESETS
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.test_gradlab import EXPECTED

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

POWER = re.compile(r"^10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+$")


def settled(page) -> None:
    """Wait until the script has finished its rerun: no status widget, and no element left stale from the run
    before (the preset's box is drawn before the analysis, so it alone does not say the verdict is fresh)."""
    page.wait_for_timeout(500)
    page.wait_for_function('() => !document.querySelector("[data-testid=stStatusWidget]") && '
                           '!document.querySelector("[data-stale=true]")', timeout=90_000)
    page.wait_for_timeout(300)


def test_each_preset_shows_its_verdict_and_the_axis_reads_as_powers_of_ten(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p, streamlit_server({"AUGVIZ_HOME": str(tmp_path)}) as url:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/gradients")
            page.get_by_test_id("stMetricValue").first.wait_for(timeout=90_000)
            seen = {}
            for name, preset in PRESETS.items():
                page.get_by_role("button", name=preset.button, exact=True).click()
                page.wait_for_function('label => [...document.querySelectorAll("[data-testid=stAlert]")]'
                                       '.some(e => e.innerText.includes(label))', arg=preset.label, timeout=60_000)
                settled(page)
                seen[name] = page.get_by_test_id("stMetricValue").first.inner_text().strip()
            assert seen == EXPECTED
            ticks = page.evaluate('''() => [...document.querySelectorAll(".js-plotly-plot")[0]
                .querySelectorAll(".ytick text")].map(t => [t.textContent, getComputedStyle(t).fontSize,
                                                            getComputedStyle(t).fill])''')
            assert ticks and all(POWER.match(text) for text, _, _ in ticks), ticks
            assert all(float(size.rstrip("px")) >= 14 for _, size, _ in ticks)
            assert all(sum(int(v) for v in re.findall(r"\d+", fill)[:3]) < 3 * 80 for _, _, fill in ticks)  # dark
            legend = page.evaluate('''() => [...document.querySelectorAll(".js-plotly-plot .legendtext")]
                .map(t => getComputedStyle(t).fontSize)''')
            assert legend and all(float(size.rstrip("px")) >= 14 for size in legend), legend
            page.screenshot(path=ARTIFACTS / "gradients-presets.png", full_page=True)
        finally:
            browser.close()
