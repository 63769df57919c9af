"""A real browser: JupyterLab + Debian's Chromium driven by Playwright, SpeakPanel clicked.

Needs `apt-get install -y chromium` (Playwright's own browser download is not used). The
screenshot lands in test-artifacts/ (gitignored) for people to look at.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from .browser.lab import jupyter_lab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = Path(__file__).parent / "browser" / "speak_panel.ipynb"
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


def test_speak_panel_in_jupyterlab_and_chromium(tmp_path):
    assert Path(CHROMIUM).exists(), "install Chromium first: apt-get install -y chromium"
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyter_lab(root, tmp_path) as (base, token), sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = context.new_page()
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?reset&token={token}")
            page.wait_for_function(KERNEL_IDLE, timeout=90_000)  # the kernel, not just the page
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
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
            page.evaluate("window.jupyterapp.shell.collapseLeft()")  # more room for the panel
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "speak_panel.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "speak_panel-failure.png"))
            raise
        finally:
            context.close()
    assert badge == "SUCCEEDED"
    assert audio["duration"] > 0.5 and audio["paused"]
    assert not audio["autoplay"] and not audio["loop"]
    assert "SUCCEEDED" in history and "Olivia" in history
