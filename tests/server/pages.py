"""Helpers of the page tests: open the verifier page as a buyer would, read what it says.

Each buyer is a fresh Chromium context (its own storage and service worker) with a
viewport, a browser language and a time zone.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from tests.server.conftest import STATIC

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
#: The page's languages and a browser locale that asks for each.
LANGUAGES = {"en": "en-US", "zh-Hans": "zh-CN", "ja": "ja-JP"}
DONE = "#verdict:not([data-verdict=checking]):not([data-verdict=idle])"
#: Chromium logs an expected 404 (an unknown tag's proof) as a console error ...
NOT_FOUND = "the server responded with a status of 404"
#: ... and each request to a stopped server.
OFFLINE = ("net::ERR_CONNECTION_REFUSED", "net::ERR_FAILED")


@cache
def catalogue(lang: str) -> dict[str, str]:
    """A catalogue's strings: the strict JSON object in server/static/i18n-<lang>.js."""
    text = (STATIC / f"i18n-{lang}.js").read_text(encoding="utf-8")
    start, end = text.index("\n{") + 1, text.rindex("}") + 1
    strings: dict[str, str] = json.loads(text[start:end])
    return strings


def says(lang: str, key: str, text: str, **values: object) -> bool:
    """Whether text is the catalogue's sentence for key, with the given placeholder values
    (the others, e.g. dates, may be anything)."""
    parts = re.split(r"(\{[a-z_]+\})", catalogue(lang)[key])
    pattern = "".join(
        (re.escape(str(values[p[1:-1]])) if p[1:-1] in values else ".+?")
        if p.startswith("{") and p.endswith("}")
        else re.escape(p)
        for p in parts
    )
    return re.fullmatch(pattern, text) is not None


@contextmanager
def buyer(
    chromium: Browser,
    *,
    viewport: Literal["phone", "desktop"] = "phone",
    locale: str = "en-US",
    timezone: str = "Europe/Paris",
    service_workers: Literal["allow", "block"] = "allow",
    expect_404: bool = False,
    expect_offline: bool = False,
) -> Iterator[Page]:
    """A page in a fresh context; fails if the page logged an error or threw."""
    context = chromium.new_context(
        viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
        locale=locale,
        timezone_id=timezone,
        service_workers=service_workers,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
    expected = ((NOT_FOUND,) if expect_404 else ()) + (OFFLINE if expect_offline else ())
    unexpected = [e for e in errors if not any(x in e for x in expected)]
    assert not unexpected, f"errors on the page (script, CSP, failed loads): {unexpected}"


def open_item(page: Page, base: str, item: str, lang: str | None = None) -> int:
    """Open the item's QR link and wait for a verdict, with no click; returns the ms from
    navigation to the verdict, as the page measured it."""
    query = f"?item={quote(item, safe='')}" + (f"&lang={lang}" if lang else "")
    page.goto(f"{base}/verify{query}")
    page.wait_for_selector(DONE, timeout=15_000)
    return int(page.get_attribute("#verdict", "data-shown-ms") or "0")


def wait_until(page: Page, script: str, timeout: float = 15.0) -> None:
    """Poll a JS function until it returns true. (wait_for_function evaluates a string,
    which the page's Content-Security-Policy forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {script}")
        time.sleep(0.05)


def verdict(page: Page) -> dict[str, Any]:
    out: dict[str, Any] = page.evaluate(
        """() => {
            const box = document.getElementById("verdict");
            return { state: box.dataset.verdict, tone: box.dataset.tone, step: box.dataset.step,
                     title: document.getElementById("verdict-title").textContent,
                     lines: Array.from(box.querySelectorAll("li"), (li) => li.textContent) };
        }"""
    )
    return out


def open_everything(page: Page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scroll)."""
    width: int = page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
    return width


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG A/AA violations of the page as it is now."""
    from devtools.axe_dist import ensure_axe

    if not page.evaluate("typeof window.axe === 'object'"):
        # evaluate() runs outside the page's Content-Security-Policy, unlike a script tag.
        page.evaluate(ensure_axe().read_text(encoding="utf-8") + "\n;undefined")
    results: dict[str, Any] = page.evaluate(
        """async () => axe.run(document, {
            runOnly: { type: "tag",
                       values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
            resultTypes: ["violations"],
        })"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
