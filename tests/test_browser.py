"""The report and the entity explorer in a real browser: Debian's chromium driven by
playwright's Python package (`make browser` installs chromium with apt-get when missing and
running as root; never `playwright install`). Skipped only when chromium is absent and cannot
be installed here (not root).

LITKG_SCREENSHOTS=docs (`make screenshots`) also writes the README's screenshots there."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

import litkg
from litkg.view import report

CHROMIUM = os.environ.get("LITKG_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.environ.get("LITKG_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            pytest.fail(f"{CHROMIUM} is missing but could be installed: run `make browser`")
        pytest.skip(f"no browser: {CHROMIUM} is missing and installing it needs root "
                    "(apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.problems = []  # console errors and uncaught exceptions
    pg.requests = []
    pg.on("console", lambda m: m.type == "error" and pg.problems.append(m.text))
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.on("request", lambda r: pg.requests.append(r.url))
    yield pg
    context.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def explorer(demo_store):
    """`litkg serve` on the demo store, on a free loopback port, in a thread."""
    import uvicorn

    from litkg.view.serve import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(litkg.open(demo_store)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _screenshot(page, name: str, tmp_path: Path, full_page: bool) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=full_page)
    assert shot.stat().st_size > 10_000
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(SCREENSHOTS) / name)


def test_report_opens_from_a_file_with_no_console_error_and_shows_its_plots(
        page, demo_store, tmp_path):
    out = tmp_path / "report.html"
    with litkg.open(demo_store) as kg:
        written = report.write(kg, out)
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    plots = page.locator("figure.plot svg")
    assert plots.count() == written.plots >= 12  # 4 summary plots + a timeline per claim
    assert page.locator("section#growth figure.plot svg").count() == 2
    for i in range(plots.count()):
        box = plots.nth(i).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 40  # drawn, not empty
    assert page.get_by_text("knowledge distillation improves", exact=False).count() >= 1
    assert page.problems == []
    assert [u for u in page.requests if not u.startswith("file://")] == []  # self-contained
    _screenshot(page, "report.png", tmp_path, full_page=False)


def test_explorer_lists_the_reinforced_edge_of_knowledge_distillation_and_follows_the_slider(
        page, explorer, tmp_path):
    page.goto(f"{explorer}/entity/knowledge%20distillation")  # resolved, then redirected
    page.wait_for_selector('#explorer[data-loaded="2024-04-01"]')
    row = page.locator("#edges tbody tr", has_text="student accuracy")
    assert row.locator("td.support").inner_text() == "7"
    assert row.locator("td.change").inner_text() == "reinforced 2024-04-01"
    assert row.locator("td.status").inner_text() == "active"
    assert row.locator(".ev a").first.get_attribute("href") == \
        "https://arxiv.org/abs/2404.00060"
    assert page.locator("#graph canvas").count() > 0  # the neighbourhood, drawn
    assert page.locator("#aliases").inner_text().startswith("knowledge distillation")
    _screenshot(page, "entity.png", tmp_path, full_page=True)

    slider = page.locator("#day")
    slider.fill(str(page.evaluate(
        "JSON.parse(document.getElementById('explorer').dataset.days).indexOf('2024-03-05')")))
    page.wait_for_selector('#explorer[data-loaded="2024-03-05"]')
    assert page.locator("#day-label").inner_text() == "2024-03-05"
    assert page.locator("#table-day").inner_text() == "2024-03-05"
    row = page.locator("#edges tbody tr", has_text="student accuracy")
    then = int(row.locator("td.support").inner_text())
    assert 1 <= then < 7
    assert not row.locator("td.change").inner_text().endswith("2024-04-01")
    assert page.locator("#edges tbody tr", has_text="model compression").count() == 0
    assert "as_of=2024-03-05" in page.url
    assert page.problems == []


@pytest.mark.skipif(not SCREENSHOTS, reason="LITKG_SCREENSHOTS unset (make screenshots)")
def test_screenshot_of_an_entity_with_a_contested_claim_and_two_hops(page, explorer, tmp_path):
    page.goto(f"{explorer}/entity/convnext?as_of=2024-03-31&hops=2")
    page.wait_for_selector('#explorer[data-loaded="2024-03-31"]')
    assert page.locator("#edges td.status", has_text="contested").count() >= 1
    page.wait_for_timeout(300)
    assert page.problems == []
    _screenshot(page, "entity.png", tmp_path, full_page=True)
