"""A real browser: JupyterLab + Debian's Chromium driven by Playwright.

What a newcomer meets and a headless kernel cannot show: a panel clicked for real; job views in
the dark theme (every text measured against its background); a user's own Cancel; a notebook
saved, its kernel gone, reopened without running; a comparison and its rating sliders.

Needs `apt-get install -y chromium` (Playwright's own browser download is not used).
Screenshots land in test-artifacts/ (gitignored) for people to look at, and the comparison's in
docs/compare.png, the picture the README shows.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from .browser.lab import jupyter_lab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = Path(__file__).parent / "browser"
ARTIFACTS = ROOT / "test-artifacts"
KERNEL_IDLE = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = widget && widget.sessionContext && widget.sessionContext.session
        && widget.sessionContext.session.kernel;
    return kernel && kernel.status === "idle";
}"""
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's package
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# WCAG 2 contrast of every piece of text under `root` against what is painted behind it:
# semi-transparent text and backgrounds (the dark theme's rgba font colours) are blended over
# the nearest opaque ancestor, as the browser paints them.
CONTRAST = """(root) => {
    const parse = (c) => { const m = c.match(/[\\d.]+/g).map(Number);
        return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
    const over = (top, below) => top.slice(0, 3).map(
        (v, i) => v * top[3] + below[i] * (1 - top[3])).concat([1]);
    const behind = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const bg = parse(getComputedStyle(e).backgroundColor);
            if (bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
        }
        return layers.reverse().reduce((acc, layer) => over(layer, acc), [255, 255, 255, 1]);
    };
    const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const out = [];
    for (const el of root.querySelectorAll("*")) {
        if (el.closest("audio, svg, style, script, .jp-OutputArea-prompt")) continue;
        const own = [...el.childNodes].filter((n) => n.nodeType === 3)
            .map((n) => n.textContent.trim()).join(" ").trim();
        if (!own || !el.getClientRects().length) continue;
        const bg = behind(el), fg = over(parse(getComputedStyle(el).color), bg);
        const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
        out.push({text: own.slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05)});
    }
    return out;
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab on a copy of tests/browser/ and one headless Chromium for every test."""
    assert Path(CHROMIUM).exists(), "install Chromium first: apt-get install -y chromium"
    scratch = tmp_path_factory.mktemp("lab")
    root = scratch / "root"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyter_lab(root, scratch) as (base, token), sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-profile-", dir=scratch),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            yield context, base, token, root
        finally:
            context.close()


def open_notebook(lab, name: str):
    context, base, token, _root = lab
    page = context.new_page()
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)  # the kernel, not just the page
    page.evaluate("window.jupyterapp.shell.collapseLeft()")  # more room for the outputs
    return page


def run_all(page) -> None:
    """Run every cell; returns once the last one finished."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def output(page, cell: int):
    """The output area of the notebook's `cell`-th cell (0: the first, markdown included)."""
    return page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".jp-OutputArea")


def contrast(locator) -> list[dict]:
    return locator.evaluate(CONTRAST)


def set_theme(page, name: str) -> None:
    light = "true" if "Light" in name else "false"
    page.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", name
    )
    page.wait_for_function(f"document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)
    page.wait_for_timeout(500)  # the theme's CSS variables apply to the outputs


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_speak_panel_in_jupyterlab_and_chromium(lab):
    page = open_notebook(lab, "speak_panel.ipynb")
    try:
        run_all(page)
        speak = page.locator(".tts-nb-speak .widget-button", has_text="Speak")
        speak.wait_for(timeout=60_000)
        assert page.locator(".tts-nb-speak audio").count() == 0
        speak.click()
        page.wait_for_selector(".tts-nb-job audio", timeout=60_000)
        page.wait_for_function(
            "document.querySelector('.tts-nb-job audio').readyState >= 1", timeout=30_000
        )
        audio = page.evaluate(
            "(() => { const a = document.querySelector('.tts-nb-job audio');"
            " return {duration: a.duration, paused: a.paused, autoplay: a.autoplay,"
            " loop: a.loop}; })()"
        )
        badge = page.locator(".tts-nb-job .tts-nb-badge").inner_text()
        history = page.locator(".tts-nb-speak table").inner_text()
        page.wait_for_timeout(300)
        screenshot(page, "speak_panel")
    except Exception:
        screenshot(page, "speak_panel-failure")
        raise
    finally:
        page.close()
    assert badge == "SUCCEEDED"
    assert audio["duration"] > 0.5 and audio["paused"]
    assert not audio["autoplay"] and not audio["loop"]
    assert "SUCCEEDED" in history and "Olivia" in history


def test_job_views_dark_theme_cancel_and_the_saved_notebook_reopened(lab):
    _context, _base, _token, root = lab
    page = open_notebook(lab, "job_views.ipynb")
    try:
        run_all(page)
        cancel = page.locator(".tts-nb-job .widget-button:visible", has_text="Cancel")
        cancel.wait_for(timeout=60_000)
        cancel.click()  # the slow job: a user's own Cancel
        cancelled = output(page, 4)
        cancelled.locator(".tts-nb-note").wait_for(timeout=30_000)
        cancelled_text = cancelled.inner_text()
        cancelled_error = cancelled.locator(".tts-nb-error").count()
        screenshot(page, "job_cancelled")
        # Any cell's end replaces each ended job's output by its static copy: run the last.
        page.evaluate(
            """async () => {
                const panel = window.jupyterapp.shell.currentWidget;
                panel.content.activeCellIndex = panel.content.widgets.length - 1;
                await window.jupyterapp.commands.execute('notebook:run-cell');
            }"""
        )
        page.wait_for_function(
            "document.querySelectorAll('.tts-nb-static').length === 2", timeout=30_000
        )
        cells = [output(page, i) for i in (1, 2, 4, 5)]  # status, job, cancelled job, table
        light = [r for cell in cells for r in contrast(cell)]
        screenshot(page, "job_views_light")
        set_theme(page, "JupyterLab Dark")
        dark = [r for cell in cells for r in contrast(cell)]
        screenshot(page, "job_views_dark")
        output(page, 1).screenshot(path=str(ARTIFACTS / "status_dark.png"))
        set_theme(page, "JupyterLab Light")  # a user setting: later tests start light
        page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        page.evaluate(
            "async () => { await window.jupyterapp.shell.currentWidget.sessionContext.shutdown(); }"
        )
    except Exception:
        screenshot(page, "job_views-failure")
        raise
    finally:
        page.close()
    saved = json.loads((root / "job_views.ipynb").read_text())
    saved_job = saved["cells"][2]["outputs"]
    page = open_notebook(lab, "job_views.ipynb")  # a new kernel: no widget models at all
    try:
        page.wait_for_timeout(3000)  # the widget manager gives up on a missing model in 2 s
        reopened = output(page, 2)
        reopened.locator(".tts-nb-static audio").wait_for(timeout=10_000)
        reopened_badge = reopened.locator(".tts-nb-badge").inner_text()
        reopened_cancel = output(page, 4).locator(".tts-nb-badge").inner_text()
        page_text = page.locator(".jp-Notebook").inner_text()
        screenshot(page, "reopened_saved_notebook")
    finally:
        page.close()

    assert "CANCELLED" in cancelled_text and "polling stopped" in cancelled_text
    assert cancelled_error == 0 and "status '" not in cancelled_text
    for theme, report in (("light", light), ("dark", dark)):
        assert len(report) >= 10, report  # the status box, both views and the table
        poor = [r for r in report if r["ratio"] < 4.5]
        assert not poor, (theme, poor)
    assert (
        len(saved_job) == 1
        and "application/vnd.jupyter.widget-view+json" not in (saved_job[0]["data"])
    )
    saved_text = "".join(saved_job[0]["data"]["text/plain"])  # .ipynb splits text in lines
    saved_html = "".join(saved_job[0]["data"]["text/html"])
    assert "SUCCEEDED" in saved_text and "SUCCEEDED" in saved_html and "<audio" in saved_html
    assert reopened_badge == "SUCCEEDED" and reopened_cancel == "CANCELLED"
    assert "model not found" not in page_text and "Error displaying widget" not in page_text


def test_comparison_and_rating_sliders(lab):
    context, _base, _token, _root = lab
    page = open_notebook(lab, "compare.ipynb")
    try:
        run_all(page)
        grid = output(page, 2)
        page.wait_for_function(
            "document.querySelectorAll('.tts-nb-compare audio').length === 3", timeout=60_000
        )
        rating = page.locator(".tts-nb-rating")
        rating.wait_for(timeout=60_000)
        page.set_viewport_size({"width": 1100, "height": 900})
        view = grid.locator(".tts-nb-compare")
        view.evaluate("(el) => el.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(500)
        box = view.bounding_box()  # the README's picture: at most 1000 x 700
        clip = {"x": box["x"], "y": box["y"], "width": min(box["width"], 1000)}
        clip["height"] = min(box["height"], 700, 900 - box["y"])
        page.screenshot(path=str(ROOT / "docs" / "compare.png"), clip=clip)
        slider = rating.locator(".widget-slider .noUi-target").first
        slider.scroll_into_view_if_needed()
        box = slider.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
        rating.get_by_text("✓").first.wait_for(timeout=15_000)
        rated = rating.inner_text()
        rating.screenshot(path=str(ARTIFACTS / "rating.png"))
    except Exception:
        screenshot(page, "compare-failure")
        raise
    finally:
        page.close()
    assert "1 of 3 rated by you" in rated
    png = (ROOT / "docs" / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 200_000
