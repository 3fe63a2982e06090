"""Headless Chromium for the console tests: Debian's chromium package (/usr/bin/chromium, or CHROMIUM_PATH),
driven by Playwright's Python client; Playwright's own browser download is never used. `make test` installs the
package when it is missing and it can (root with apt-get); otherwise these tests are skipped and say why.
Screenshots are kept under var/test-artefacts/screenshots/."""
import os
import shutil
from pathlib import Path

import pytest

ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artefacts" / "screenshots"


def _chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium():
    executable = _chromium_path()
    if executable is None:
        pytest.skip("no Chromium here (install Debian's chromium and fonts-noto-cjk, or set CHROMIUM_PATH)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")
    # Playwright's sync client keeps an event loop running in this thread, and Django refuses database calls from
    # a thread with a running loop (the test's own fixtures, the flush after it). The test thread is not async
    # code: let it through while the browser is open.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


class ConsolePage:
    """One browser tab with what went wrong in it: console errors, failed requests and 4xx/5xx answers."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        page.on("console", lambda message: self.problems.append(f"console: {message.text}")
                if message.type == "error" else None)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: self.problems.append(f"request failed: {request.url}"))
        page.on("response", lambda response: self.problems.append(f"{response.status}: {response.url}")
                if response.status >= 400 else None)

    def open(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"

    def log_in(self, site: str, phone: str, password: str) -> None:
        self.open(f"/{site}/login/")
        self.page.fill("input[name=username]", phone)
        self.page.fill("input[name=password]", password)
        with self.page.expect_navigation():
            self.page.click("#login-form button[type=submit]")
        assert self.page.url.rstrip("/").endswith(f"/{site}"), f"after login: {self.page.url}"

    def screenshot(self, name: str) -> Path:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTEFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def console_page(chromium, live_server):
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900},
                                   timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield ConsolePage(page, live_server.url)
    context.close()
