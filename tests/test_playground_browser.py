"""Notebook 02 in a real browser: JupyterLab + headless Chromium (Playwright), run all, move the r slider.

Needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`) and the `playwright` package (no
Playwright browser download). Run with `pytest -m browser tests/test_playground_browser.py`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from lorajam import budget, course

CHROMIUM = os.environ.get("LORAJAM_CHROMIUM", "/usr/bin/chromium")
NOTEBOOK = course.REPO_ROOT / "notebooks" / "02_hyperparameter_playground.ipynb"
BROWSER_PARAMETERS = {"TRAIN_STEPS": 2, "DELTA_STEPS": 2}  # the lessons' training is not under test here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout} s")


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server (no token, no browser) whose root holds a quick-parameter copy of notebook 02."""
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    course.inject_parameters(nb, {**course.QUICK_PARAMETERS, **BROWSER_PARAMETERS})
    nbformat.write(nb, root / NOTEBOOK.name)
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "JUPYTER_NO_CONFIG": "1",
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.open_browser=False",
         "--ServerApp.disable_check_xsrf=True", "--LabApp.news_url=", "--no-browser", *root_flag],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/status", proc)
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_for_idle_kernel(page, timeout: float = 60) -> None:
    """Accept a "Select Kernel" dialog if JupyterLab shows one, then wait until the kernel is idle."""
    deadline = time.monotonic() + timeout
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    idle = page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle"))
    while time.monotonic() < deadline:
        if dialog.count():
            dialog.first.click()
        elif idle.count():
            return
        page.wait_for_timeout(250)
    raise TimeoutError("the notebook's kernel did not become idle")


def _wait_for_playground(page, timeout: float = 150) -> None:
    """Wait until the playground's summary is on the page; fail at once, with the traceback, if a cell fails."""
    deadline = time.monotonic() + timeout
    shown = page.locator(".lj-trainable")
    failed = page.locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)")
    while time.monotonic() < deadline:
        if shown.count():
            return
        if failed.count():
            pytest.fail("a notebook cell failed in JupyterLab:\n" + failed.first.inner_text()[-3000:])
        page.wait_for_timeout(250)
    raise TimeoutError(f"the playground did not appear within {timeout} s")


def _wait_for_count(page, expected: int, timeout_ms: int = 20_000) -> None:
    """Wait until the displayed trainable-parameter count reads `expected` (the widget may still be rendering)."""
    try:
        page.wait_for_function(
            "n => { const e = document.querySelector('.lj-trainable');"
            " return e !== null && e.innerText.replaceAll(',', '') === String(n); }",
            arg=expected, timeout=timeout_ms,
        )
    except Exception:  # noqa: BLE001 - report what is shown instead of a bare timeout
        shown = page.locator(".lj-trainable").first.inner_text()
        pytest.fail(f"the playground shows {shown!r} trainable parameters, expected {expected:,}")


def _trainable(page) -> int:
    return int(page.locator(".lj-trainable").first.inner_text().replace(",", ""))


def test_run_all_then_move_the_rank_slider(lab):
    playwright = pytest.importorskip("playwright.sync_api")
    url, root = lab
    arch = budget.preset("SmolLM2-135M")
    start = time.monotonic()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(f"{url}/lab/tree/{NOTEBOOK.name}")
            page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
            _wait_for_idle_kernel(page)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

            _wait_for_playground(page)
            _wait_for_count(page, budget.lora_params(arch, 8, ("q_proj", "v_proj")))

            slider = page.locator(".widget-slider", has=page.get_by_text("rank r", exact=True))
            handle = slider.locator(".noUi-handle").first
            handle.focus()
            handle.press("ArrowRight")  # 8 -> 16: the next power of two
            expected = budget.lora_params(arch, 16, ("q_proj", "v_proj"))
            _wait_for_count(page, expected)
            assert _trainable(page) == expected == 2 * budget.lora_params(arch, 8, ("q_proj", "v_proj"))
            assert "16" in slider.locator(".widget-readout").first.inner_text()
        except Exception:
            page.screenshot(path=str(root / "failure.png"))
            raise
        finally:
            browser.close()
    print(f"browser test: {time.monotonic() - start:.1f} s (screenshot on failure in {root})")
