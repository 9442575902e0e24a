"""The pages in a real headless Chromium, driven by Playwright, against the app served over HTTP.

Chromium is Debian's (`/usr/bin/chromium`; `sudo apt-get install chromium`); Playwright never downloads
a browser of its own here. Without Chromium or the `playwright` package these tests are skipped with
the reason printed, unless TMS_REQUIRE_BROWSER=1 (as in CI), where that is a failure.

axe-core (tests/peers/package.json, `npm ci --prefix tests/peers`) checks each page for accessibility:
any "serious" or "critical" violation fails the test. Every test leaves a screenshot of its last page
(and any taken on the way) in $TMS_ARTIFACTS_DIR, else tests/browser/artifacts/ (gitignored).
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.conftest import DEMO_PASSWORDS
from tests.integration.conftest import LiveServer
from tms_scheduler.settings import PROJECT_ROOT

CHROMIUM = Path(os.environ.get("TMS_CHROMIUM", "/usr/bin/chromium"))
# As this machine's Chromium needs them: no sandbox (root), and no calls home (the network is closed).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REQUIRE_BROWSER = os.environ.get("TMS_REQUIRE_BROWSER") == "1"
AXE = PROJECT_ROOT / "tests" / "peers" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("TMS_ARTIFACTS_DIR") or PROJECT_ROOT / "tests" / "browser" / "artifacts")
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}
# Each step of a page waits at most this long (a local server and a local browser: seconds are plenty).
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> NoReturn:
    reason = f"browser tests: {reason}"
    print(reason)
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (TMS_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the worker's tests."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (sudo apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        except Exception as exc:  # a broken install is as good as none, and says why
            _unavailable(f"Chromium at {CHROMIUM} did not start: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture
def database_url(sqlite_template, tmp_path) -> str:
    """SQLite only: these tests are about the pages in a browser, and each costs seconds; the storage under
    them is tested on both databases by tests/api and tests/web through the same services."""
    path = tmp_path / "tms.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """The app (the demo clinic loaded, the test's fixed clock) served on 127.0.0.1 in a thread."""
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


def _artifact_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_")


@pytest.fixture
def artifacts(request) -> Path:
    """This test's folder of screenshots, emptied first."""
    folder = ARTIFACTS / _artifact_name(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, live_server, artifacts, request) -> Iterator:
    """A new page in a fresh context (no cookies) at the live server, 1280x800; its last view is saved as
    last.png whatever the test's outcome; a script error or a stylesheet, script, image or font that
    failed to load, on any page, fails the test."""
    # bypass_csp is for tests only: the service sends `script-src 'self'`, which (rightly) refuses the
    # inline <script> that add_script_tag uses to inject axe-core. test_pages_keep_to_their_csp opens
    # the pages without it, so the policy the service sends is still tested in the browser.
    context = browser.new_context(base_url=live_server.base_url, viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []
    watch(tab, problems)
    yield tab
    try:
        if not tab.is_closed():
            tab.screenshot(path=str(artifacts / "last.png"), full_page=True)
    finally:
        context.close()
    problems = list(dict.fromkeys(problems))  # a 404 is often reported again as a failed request
    assert not problems, "the browser saw:\n" + "\n".join(f"  {problem}" for problem in problems)


SUBRESOURCES = frozenset({"stylesheet", "script", "image", "font"})


def watch(tab, problems: list[str]) -> None:
    """Collects what a person would see broken: an uncaught script error, or a stylesheet, script, image
    or font that did not load."""
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on("response", lambda answer: problems.append(f"{answer.status} for {answer.request.resource_type} "
                                                      f"{answer.url}")
           if answer.status >= 400 and answer.request.resource_type in SUBRESOURCES else None)
    tab.on("requestfailed", lambda request: problems.append(f"{request.resource_type} {request.url} failed: "
                                                            f"{request.failure}")
           if request.resource_type in SUBRESOURCES else None)


def sign_in(page, role: str) -> None:
    """Signs in as the role's demo user through the sign-in form; lands on the role's first page."""
    username, password = DEMO_PASSWORDS[role]
    page.goto("/sign-in")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/sign-in" not in page.url, f"{role} was not signed in: {page.locator('main').inner_text()}"


def axe_check(page, *, context: str | None = None) -> None:
    """Runs axe-core on the page; fails on any serious or critical violation, listing each."""
    if not AXE.is_file():
        _unavailable(f"axe-core is not installed at {AXE} (npm ci --prefix tests/peers --ignore-scripts)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async (context) => {
             const result = await window.axe.run(context || document, {resultTypes: ["violations"]});
             return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                 nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
           }""",
        context,
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe-core on {page.url}:\n" + "\n".join(
        f"  {v['impact']}: {v['id']}: {v['help']} (at {', '.join(v['nodes'])})" for v in bad)


def screenshot(page, artifacts: Path, name: str, viewport: dict[str, int] | None = None) -> Path:
    """A full-page screenshot into the test's artefacts, at a viewport if given."""
    if viewport:
        page.set_viewport_size(viewport)
        name = f"{name}-{viewport['width']}x{viewport['height']}"
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
