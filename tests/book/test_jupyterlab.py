"""Live widgets in a real JupyterLab 4, driven by headless Chromium.

Starts JupyterLab on a free loopback port in a temporary folder, opens a notebook,
runs all cells through JupyterLab's own command, moves controls and reads the data
plotly drew (``gd.data`` of the graph div).

Flicker is measured, not eyeballed: a ``requestAnimationFrame`` loop records, for every
frame the browser paints, how many plots the widget's output area holds and how tall it
is; a redraw must never paint a frame without the plot or shrink the area. The layout
checks measure the controls' boxes. The last test shows what a frontend without a widget
manager (the built book) draws from a widget's output.
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


def run_notebook_in_lab(
    browser, lab, name: str, cells: list[str], wait: bool = True
) -> OfflinePage:
    """Write a notebook, open it in JupyterLab and run all cells; the caller closes it.

    ``wait=False`` returns as soon as the cells are queued (for cells that wait for
    the test, e.g. for a frame sampler to start).
    """
    root, base = lab
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, root / name)
    visit = OfflinePage(browser, base, viewport=(1200, 900))
    # A fresh workspace per notebook, so tabs of earlier tests are not restored.
    workspace = Path(name).stem
    visit.page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={TOKEN}")
    visit.page.wait_for_function(KERNEL_IDLE, timeout=120_000)
    run_all = "window.jupyterapp.commands.execute('notebook:run-all-cells')"
    visit.page.evaluate(run_all if wait else f"() => {{ {run_all}; }}")
    return visit


def external_requests(visit: OfflinePage) -> list[str]:
    return [r for r in visit.bad_requests if r.startswith("external")]


def plot_data(page, index: int = 0):
    """The trace data plotly drew in the index-th graph of the page (None while it is not
    there: an output replaced by a display update is briefly absent)."""
    graph = f"document.querySelectorAll('.js-plotly-plot')[{index}]"
    return page.evaluate(f"{graph} ? ({graph}.data ?? null) : null")


def press_on(page, selector: str, key: str, times: int) -> None:
    """Focus a control (e.g. a slider handle) and press a key several times."""
    page.locator(selector).first.focus()
    for _ in range(times):
        page.keyboard.press(key)


def wait_for_change(page, before, index: int = 0, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = plot_data(page, index)
        if now is not None and now != before:
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


# ------------------------------------------------------------------- flicker, layout
SAMPLER = """(cell) => {
  window.__frames = [];
  window.__sampling = true;
  const tick = () => {
    const c = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[cell];
    const area = c && c.querySelector('.jp-Cell-outputArea');
    const gd = area && area.querySelector('.js-plotly-plot');
    const title = gd && gd.layout && gd.layout.title ? gd.layout.title.text : null;
    window.__frames.push([
      area ? area.querySelectorAll('.js-plotly-plot .main-svg').length : 0,
      area ? Math.round(area.getBoundingClientRect().height) : 0,
      title,
    ]);
    if (window.__sampling) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def start_sampling(page, cell: int = 0) -> None:
    page.evaluate(SAMPLER, cell)


def stop_sampling(page) -> list[list]:
    """Every painted frame since start_sampling: [plots drawn, area height, title]."""
    page.evaluate("window.__sampling = false")
    return page.evaluate("window.__frames")


def assert_no_blank_frame(frames: list[list], min_titles: int) -> None:
    """The plot is on screen in every frame, the area never dips below its height before
    and after the redraws (a view may legitimately be taller), and it did redraw."""
    assert frames, "no frame was sampled"
    blank = [i for i, (plots, _, _) in enumerate(frames) if plots == 0]
    assert not blank, f"{len(blank)} of {len(frames)} frames painted without the plot"
    heights = [h for _, h, _ in frames]
    floor = 0.95 * min(heights[0], heights[-1])
    dips = [h for h in heights if h < floor]
    assert not dips, f"the output shrank to {min(dips)} px during a redraw ({heights[0]} px before)"
    titles = list(dict.fromkeys(t for _, _, t in frames))
    assert len(titles) >= min_titles, f"only {len(titles)} states were drawn: {titles}"


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def test_explorer_redraws_without_a_blank_frame_and_its_sliders_are_equal(browser, lab):
    code = """
import torch
from llmwidgets import SamplingExplorer
SamplingExplorer(
    torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]), ["the", "a", "cat", "dog", "moon"], temperature=1.0
)
"""
    with run_notebook_in_lab(browser, lab, "flicker.ipynb", [code]) as visit:
        page = visit.page
        handle = ".widget-slider:has-text('temperature') .noUi-handle"
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=90_000)
        page.locator(handle).wait_for(timeout=90_000)
        start_sampling(page)
        for _ in range(5):  # five redraws, each waited for
            before = plot_title(page)
            press_on(page, handle, "ArrowRight", 1)
            deadline = time.monotonic() + 20
            while plot_title(page) == before and time.monotonic() < deadline:
                time.sleep(0.05)
        page.wait_for_timeout(300)
        frames = stop_sampling(page)
        assert "T = 1.25" in plot_title(page)
        assert_no_blank_frame(frames, min_titles=6)
        # (d) every slider track as wide as the others (the long label no longer eats it)
        tracks = page.evaluate(
            "Array.from(document.querySelectorAll('.widget-slider .noUi-target'))"
            ".map(t => t.getBoundingClientRect().width)"
        )
        assert len(tracks) == 4 and min(tracks) >= 0.95 * max(tracks) and min(tracks) > 100, tracks
        visit.screenshot(SCREENSHOTS / "jupyterlab-explorer-sliders.png")
        assert visit.console_errors == []
        assert external_requests(visit) == []


def test_attention_controls_on_one_row_and_grid_has_token_labels(browser, lab):
    code = """
import torch
from llmwidgets import AttentionViewer
w = torch.softmax(torch.randn(2, 2, 5, 5, generator=torch.Generator().manual_seed(0)), -1)
AttentionViewer(w, ["The", "cat", "sat", "on", "<b>mat</b>"], title="demo")
"""
    with run_notebook_in_lab(browser, lab, "attention.ipynb", [code]) as visit:
        page = visit.page
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=90_000)
        page.wait_for_selector(".widget-toggle-buttons button", timeout=90_000)
        buttons = page.locator(".widget-toggle-buttons button")
        tops = [buttons.nth(i).bounding_box()["y"] for i in range(buttons.count())]
        assert len(tops) == 3 and max(tops) - min(tops) < 2, tops  # one row
        label = page.locator(".widget-label", has_text="view").first.bounding_box()
        select = box(page, ".widget-dropdown select")
        centre = lambda b: b["y"] + b["height"] / 2  # noqa: E731
        assert abs(centre(label) - centre(select)) < 6, (label, select)
        assert abs(centre(label) - (min(tops) + buttons.first.bounding_box()["height"] / 2)) < 6
        ticks = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot .xaxislayer-above text'))"
            ".map(t => t.textContent)"
        )
        assert "<b>mat</b>" in ticks  # escaped: shown as text, not as markup
        start_sampling(page)
        page.locator(".widget-toggle-buttons button", has_text="grid").click()
        page.wait_for_function(
            "document.querySelector('.js-plotly-plot').layout.title.text.includes('all 2 layers')"
        )
        page.wait_for_timeout(300)
        assert_no_blank_frame(stop_sampling(page), min_titles=2)
        ticks = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot .xaxislayer-above text'))"
            ".map(t => t.textContent)"
        )
        assert ticks.count("The") == 2 and ticks.count("<b>mat</b>") == 2  # one per column
        visit.screenshot(SCREENSHOTS / "jupyterlab-attention-grid.png")
        assert visit.console_errors == []


def test_loss_plot_redraws_without_a_blank_frame(browser, lab):
    go_file = lab[0] / "go"
    code = f"""
import math, os, time
from llmwidgets import LiveLossPlot
while not os.path.exists({str(go_file)!r}):
    time.sleep(0.05)
plot = LiveLossPlot(total_steps=40, every_seconds=0.1, max_overhead=0, title="live")
for step in range(1, 41):
    time.sleep(0.05)
    plot.on_step_end(step, {{"train_loss": 3 * math.exp(-step / 10)}})
plot.on_train_end()
"""
    with run_notebook_in_lab(browser, lab, "loss.ipynb", [code], wait=False) as visit:
        page = visit.page
        running = "document.querySelector('.jp-CodeCell .jp-InputPrompt').textContent.includes('*')"
        page.wait_for_function(running, timeout=60_000)  # the cell waits for the go file
        start_sampling(page)
        go_file.touch()
        done = (
            "(() => { const g = document.querySelector('.js-plotly-plot');"
            " return g && g.layout && g.layout.title.text.includes('done'); })()"
        )
        page.wait_for_function(done, timeout=120_000)
        page.wait_for_timeout(500)
        frames = stop_sampling(page)
        drawn = [i for i, f in enumerate(frames) if f[0] > 0]
        assert drawn, "the loss plot never appeared"
        assert_no_blank_frame(frames[drawn[0] :], min_titles=5)
        assert "step 40/40" in plot_title(page) and "done" in plot_title(page)
        assert page.locator(".jupyter-widgets").count() == 0  # the final output is a figure
        assert visit.console_errors == []


def test_chat_widget_grows_its_transcript_without_a_blank_frame(browser, lab):
    """Type a message into the chat widget, press Send: the transcript grows in place."""
    code = """
from llmwidgets import ChatWidget
ChatWidget(lambda turns: f"Good morrow, {turns[-1][1]}! ({len(turns)} turns)", title="demo")
"""
    with run_notebook_in_lab(browser, lab, "chat.ipynb", [code]) as visit:
        page = visit.page
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=90_000)
        box = page.locator(".widget-text input").first
        box.wait_for(timeout=90_000)
        assert plot_title(page) == "demo · 0 messages"
        start_sampling(page)
        for message, count in (("Romeo", 2), ("<b>Juliet</b>", 4)):
            box.fill(message)
            page.locator(".widget-button", has_text="Send").click()
            page.wait_for_function(
                "document.querySelector('.js-plotly-plot').layout.title.text"
                f".includes('{count} messages')",
                timeout=30_000,
            )
        page.wait_for_timeout(300)
        assert_no_blank_frame(stop_sampling(page), min_titles=3)
        roles, texts = plot_data(page)[0]["cells"]["values"]
        assert roles == ["user", "assistant"] * 2
        assert texts[:2] == ["Romeo", "Good morrow, Romeo! (1 turns)"]
        assert texts[3] == "Good morrow, &lt;b&gt;Juliet&lt;/b&gt;! (3 turns)"
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot text'))"
            ".map(t => t.textContent).join(' ')"
        )
        assert "<b>Juliet</b>" in shown  # escaped: the markup is shown as text
        assert box.input_value() == ""  # the box is emptied after a reply
        assert page.locator(".js-plotly-plot").count() == 1  # redrawn in place, not appended
        visit.screenshot(SCREENSHOTS / "jupyterlab-chat-widget.png")
        assert visit.console_errors == []
        assert external_requests(visit) == []


# ----------------------------------------------------- without a widget manager
def test_widget_output_shows_its_static_form_without_widgets(browser, tmp_path, run_in_kernel):
    """What the built book draws from a live widget's output: the static figure.

    The output is made by a real kernel; the page is what MyST-NB renders with the
    book's priority list (llmbook drops the widget view), with the book's plotly.js.
    """
    import functools
    import shutil
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "book" / "_ext"))
    try:
        import llmbook
    finally:
        sys.path.pop(0)
    from myst_nb.core.render import get_mime_priority

    ((output,),) = run_in_kernel(
        """
import torch
from llmwidgets import SamplingExplorer
SamplingExplorer(torch.tensor([2.0, 1.0, 0.5]), ["the", "a", "<cat>"])
"""
    )
    assert "application/vnd.jupyter.widget-view+json" in output.data
    llmbook.register_plotly_json_renderer()
    chosen = next(m for m in get_mime_priority("html", []) if m in output.data)
    assert chosen == "text/html"
    shutil.copyfile(llmbook.plotly_js_path(), tmp_path / "plotly.min.js")
    (tmp_path / "page.html").write_text(
        '<!doctype html><meta charset="utf-8"><script src="plotly.min.js"></script>'
        f"<body>{output.data['text/html']}</body>",
        encoding="utf-8",
    )
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with OfflinePage(browser, base) as visit:
            visit.page.goto(f"{base}/page.html")
            visit.page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            steps = visit.page.evaluate(
                "document.querySelector('.js-plotly-plot').layout.sliders[0].steps.length"
            )
            assert steps == 8  # the static form: one slider step per temperature
            ticks = visit.page.evaluate(
                "Array.from(document.querySelectorAll('.xtick text')).map(t => t.textContent)"
            )
            assert "<cat>" in ticks
            visit.screenshot(SCREENSHOTS / "widget-fallback.png")
            assert visit.console_errors == [] and visit.bad_requests == []
    finally:
        server.shutdown()
        server.server_close()
