"""Live widgets in a real JupyterLab 4, driven by headless Chromium.

Starts JupyterLab on a free loopback port in a temporary folder, opens a notebook,
runs all cells through JupyterLab's own command, moves controls and reads the data
plotly drew (``gd.data`` of the graph div).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import OfflinePage

TOKEN = "llmwidgets-test"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "_build" / "test" / "screenshots"
KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return k && k.status === 'idle';
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server; yields (root folder, base URL)."""
    root = tmp_path_factory.mktemp("lab")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ, JUPYTER_CONFIG_DIR=str(root / ".cfg"), JUPYTER_RUNTIME_DIR=str(root / ".rt")
    )
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root",
         "--LabApp.news_url=None", "--LabServerApp.announcements_url=None",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.terminate()
                pytest.fail("JupyterLab did not start:\n" + (root / "lab.log").read_text())
            time.sleep(0.5)
    yield root, base
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def run_notebook_in_lab(browser, lab, name: str, cells: list[str]) -> OfflinePage:
    """Write a notebook, open it in JupyterLab and run all cells; the caller closes it."""
    root, base = lab
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, root / name)
    visit = OfflinePage(browser, base, viewport=(1200, 900))
    # A fresh workspace per notebook, so tabs of earlier tests are not restored.
    workspace = Path(name).stem
    visit.page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={TOKEN}")
    visit.page.wait_for_function(KERNEL_IDLE, timeout=120_000)
    visit.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return visit


def external_requests(visit: OfflinePage) -> list[str]:
    return [r for r in visit.bad_requests if r.startswith("external")]


def plot_data(page, index: int = 0):
    """The trace data plotly drew in the index-th graph of the page."""
    return page.evaluate(f"document.querySelectorAll('.js-plotly-plot')[{index}].data")


def press_on(page, selector: str, key: str, times: int) -> None:
    """Focus a control (e.g. a slider handle) and press a key several times."""
    page.locator(selector).first.focus()
    for _ in range(times):
        page.keyboard.press(key)


def wait_for_change(page, before, index: int = 0, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = plot_data(page, index)
        if now != before:
            return now
        time.sleep(0.2)
    return before


def test_display_update_redraws_plotly_in_lab(browser, lab):
    """llmwidgets.update() from a widget callback redraws the figure in place."""
    code = """
import ipywidgets as w, plotly.graph_objects as go
from llmwidgets import show, update
s = w.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.5, description="T")
fig = go.Figure(go.Bar(x=list("abc"), y=[1.0, 2.0, 3.0]))
display(s)
h = show(fig, display_id=True)
def on(change):
    fig.data[0].y = [change["new"], 2.0, 3.0]
    update(h, fig)
s.observe(on, names="value")
"""
    with run_notebook_in_lab(browser, lab, "update.ipynb", [code]) as visit:
        page = visit.page
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        page.wait_for_selector(".widget-slider .noUi-handle", timeout=90_000)
        before = plot_data(page)
        assert before[0]["y"] == [1.0, 2.0, 3.0]
        press_on(page, ".widget-slider .noUi-handle", "ArrowRight", 1)
        after = wait_for_change(page, before)
        assert after[0]["y"] == [1.5, 2.0, 3.0]
        assert page.locator(".js-plotly-plot").count() == 1  # redrawn in place, not appended
        assert visit.console_errors == []
        assert external_requests(visit) == []


def plot_title(page, index: int = 0) -> str:
    return page.evaluate(f"document.querySelectorAll('.js-plotly-plot')[{index}].layout.title.text")


def test_temperature_slider_changes_the_bars(browser, lab):
    """The sampling explorer's temperature slider redraws the bars in JupyterLab."""
    code = """
import torch
from llmwidgets import SamplingExplorer
explorer = SamplingExplorer(
    torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]), ["the", "a", "cat", "dog", "moon"], temperature=1.0
)
explorer
"""
    with run_notebook_in_lab(browser, lab, "explorer.ipynb", [code]) as visit:
        page = visit.page
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        slider = page.locator(".widget-slider", has_text="temperature")
        slider.locator(".noUi-handle").wait_for(timeout=90_000)
        before = plot_data(page)
        title_before = plot_title(page)
        press_on(page, ".widget-slider:has-text('temperature') .noUi-handle", "ArrowRight", 1)
        after = wait_for_change(page, before)
        assert after != before, "the bars did not change when the temperature slider moved"
        title_after = plot_title(page)
        assert "T = 1.05" in title_after or "1.05" in title_after, title_after
        assert title_after != title_before
        assert page.locator(".js-plotly-plot").count() == 1  # redrawn in place
        visit.screenshot(SCREENSHOTS / "jupyterlab-sampling-explorer.png")
        assert visit.console_errors == []
        assert external_requests(visit) == []
