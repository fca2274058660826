"""Fixtures for the server tests: a pipeline-made store, `assay serve` on it, headless Chromium.

Chromium is Debian's (``apt-get install -y chromium``), driven by Playwright without any
browser download. A missing Chromium fails the browser tests; it never skips them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.server.stores import Store, build_store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
STATIC = ROOT / "server" / "static"


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_store(tmp_path_factory.mktemp("served") / "assay-data")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def served(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`assay serve` on the store, on a free loopback port; yields the base URL."""
    with serving(store.settings.data_dir, tmp_path_factory.mktemp("serve-log")) as base:
        yield base


@contextmanager
def serving(data_dir: Path, log_dir: Path, *flags: str) -> Iterator[str]:
    """`assay serve [flags]` on data_dir, on a free loopback port, until the block ends."""
    port = _free_port()
    log = log_dir / f"serve-{port}.log"
    command = [sys.executable, "-m", "assay", "--data-dir", str(data_dir)]
    command += ["serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *flags], cwd=log.parent, stdout=out, stderr=subprocess.STDOUT, env=_env()
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


#: Only a safety net: readiness is a condition (the health check answers, or the process
#: exits and fails at once); on a loaded machine importing the app alone can take 20 s.
READY_WITHIN = 180


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`assay serve` exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"`assay serve` did not answer within {READY_WITHIN} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    """One Playwright driver per session: a second sync driver cannot run beside it."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's "
            "package (apt-get update && apt-get install -y chromium chromium-driver), "
            "or ASSAY_CHROMIUM pointing at a Chromium binary.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(
    playwright_driver: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    context = playwright_driver.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1000, "height": 900},
    )
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="session")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """Chromium for tests that need their own contexts (viewport, locale, time zone)."""
    launched = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def page_errors() -> list[str]:
    """What the page fixture's page logged as errors so far; a test that expects one (an
    HTTP refusal the page answers in words) takes it out of this list."""
    return []


@pytest.fixture
def page(browser: BrowserContext, page_errors: list[str]) -> Iterator[Page]:
    page = browser.new_page()
    errors = page_errors
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        yield page
    finally:
        page.close()
    assert not errors, f"errors on the page (script, CSP, failed loads): {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def passports(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Items in every state the buyer's page tells apart (tests/server/passports.py)."""
    from tests.server.passports import build_passports

    return build_passports(tmp_path_factory.mktemp("passports") / "assay-data")


@pytest.fixture(scope="session")
def pinned(passports: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`assay serve --pinned-key platform.pub` on the passports store; yields the base URL."""
    from assay import runtime

    key = runtime.platform_verifier_path(passports.settings)
    log_dir = tmp_path_factory.mktemp("pinned-log")
    with serving(passports.settings.data_dir, log_dir, "--pinned-key", str(key)) as base:
        yield base
