"""What every page of a journey must pass: axe, one host only, weight, width; and screenshots.

`Tab` wraps one Playwright page. Every response it sees is logged, so the checks read the
browser's own network log: no request may leave the portal's host, and a citizen or public
page must weigh at most PAGE_BUDGET bytes on a first visit (the document, its stylesheets
and images, with headers), however its parts were cached by earlier pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.base import AXE_SCRIPT

PAGE_BUDGET = 30 * 1024
NARROWEST = 320  # CSS px: the smallest phone still in use
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
BLOCKING_IMPACTS = ("serious", "critical")
WAIT_MS = 15_000  # no single step of a journey may wait longer

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class PageNote:
    """What was measured on one page."""

    name: str
    url: str
    weight: int | None
    moderate: list[str]


@dataclass
class Report:
    """Everything the run measured, printed at the end of the session."""

    pages: list[PageNote] = field(default_factory=list)

    def summary(self, folder: Path) -> list[str]:
        """Lines for the terminal: the screenshot folder, weights, moderate axe findings."""
        lines = [f"screenshots of {len(self.pages)} pages: {folder}"]
        for note in self.pages:
            weight = f"{note.weight / 1024:5.1f} KB" if note.weight is not None else "   staff"
            listed = ", ".join(sorted(set(note.moderate)))
            moderate = f"  axe moderate: {listed}" if note.moderate else ""
            lines.append(f"  {weight}  {note.name}{moderate}")
        return lines


REPORT = Report()


class Tab:
    """One browser tab of one visitor, with its network log and the page checks."""

    def __init__(
        self,
        context: Any,
        *,
        portal_url: str,
        who: str,
        lang: str,
        shots: Path,
        weigh: bool,
        auditor: Any = None,
    ) -> None:
        """Open a page in `context`; `weigh` pages are held to the citizen page budget.

        Without `auditor` the context runs scripts; with it (a context that does), the
        visitor's context has JavaScript off and axe runs on a replay in `auditor`.
        """
        self.context = context
        self.auditor = auditor
        self.scripts = auditor is None
        self.page = context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.portal_url = portal_url
        self.who = who
        self.lang = lang
        self.shots = shots
        self.weigh = weigh
        self.requests: list[Any] = []
        self.documents: list[Any] = []
        self.sizes: dict[str, int] = {}
        self.page.on("request", self._requested)
        self.page.on("requestfinished", self._finished)

    def _requested(self, request: Any) -> None:
        self.requests.append(request)

    def _finished(self, request: Any) -> None:
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.documents.append(request)

    # --- what the visitor does -------------------------------------------------------

    def goto(self, path: str) -> Any:
        """Open a portal path; returns the response."""
        return self.page.goto(self.portal_url + path)

    def click(self, selector: str) -> None:
        """Click and wait for the page it leads to."""
        self.page.locator(selector).first.click()
        self.page.wait_for_load_state("load")

    # --- the checks --------------------------------------------------------------------

    def check(self, name: str, *, expect_status: int | None = None) -> PageNote:
        """Every check on the page as it is now; a screenshot at phone and desktop width."""
        label = f"{self.who}-{self.lang}-{len(REPORT.pages) + 1:02d}-{name}"
        document = self.documents[-1] if self.documents else None
        if expect_status is not None:
            assert document is not None, f"{label}: no document loaded"
            status = document.response().status
            assert status == expect_status, f"{label}: status {status}, not {expect_status}"
        self.assert_one_host(label)
        moderate = self.assert_accessible(label)
        weight = None
        if self.weigh and self.page.viewport_size != PHONE:
            # A public page read at a desk is read on phones too: audit it at that width.
            before = self.page.viewport_size
            self.page.set_viewport_size(PHONE)
            try:
                moderate += self.assert_accessible(label + "@phone")
            finally:
                self.page.set_viewport_size(before)
        if self.weigh:
            weight = self.weight(document)
            assert weight <= PAGE_BUDGET, f"{label}: {weight} bytes, over {PAGE_BUDGET}"
            self.assert_fits(NARROWEST, label)
        self.screenshot(label)
        note = PageNote(label, self.page.url, weight, moderate)
        REPORT.pages.append(note)
        return note

    def assert_one_host(self, label: str) -> None:
        """No request has gone anywhere but the portal."""
        for request in self.requests:
            url = request.url
            if url.startswith(("data:", "about:")):
                continue
            assert url.startswith(self.portal_url + "/"), f"{label}: request to {url}"

    def assert_accessible(self, label: str) -> list[str]:
        """axe-core: no serious or critical violation; returns the moderate ones."""
        target = self.page if self.scripts else self._replay()
        try:
            target.evaluate(AXE_SCRIPT)
            result = target.evaluate("axe.run(document, {resultTypes: ['violations']})")
        finally:
            if target is not self.page:
                target.close()
        blocking = [v for v in result["violations"] if v["impact"] in BLOCKING_IMPACTS]
        described = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
            for v in blocking
        ]
        assert not blocking, f"{label}: axe found\n" + "\n".join(described)
        return sorted({v["id"] for v in result["violations"] if v["impact"] == "moderate"})

    def _replay(self) -> Any:
        """The page as it stands, in a tab that runs scripts, for axe.

        axe-core waits on timers, which never fire where JavaScript is off: the same
        document (served again from memory at the same address) is audited instead.
        """
        assert self.auditor is not None
        html = self.page.content()
        address = self.page.url.split("#")[0]
        replay = self.auditor.new_page()
        replay.set_default_timeout(WAIT_MS)
        replay.set_viewport_size(self.page.viewport_size)
        replay.route(
            lambda url: url.split("#")[0] == address,
            lambda route: route.fulfill(status=200, content_type="text/html", body=html),
        )
        replay.goto(self.page.url)
        return replay

    def weight(self, document: Any) -> int:
        """Bytes of a first visit: the document plus every stylesheet and image it uses."""
        assert document is not None
        total = _transferred(document)
        urls = self.page.evaluate(
            """() => [
                ...[...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.href),
                ...[...document.querySelectorAll('img, script[src]')].map(e => e.src),
            ].filter(u => u && !u.startsWith('data:'))"""
        )
        for url in set(urls):
            total += self._resource_size(url)
        return total

    def _resource_size(self, url: str) -> int:
        """A subresource's transferred size, as the network log saw it when first loaded."""
        if url not in self.sizes:
            for request in self.requests:
                if request.url == url and request.response() is not None:
                    size = _transferred(request)
                    if size:
                        self.sizes[url] = size
                        break
            else:
                # Loaded by an earlier tab of this context and cached: fetch it as a first
                # visit would (body and headers).
                response = self.context.request.get(url)
                self.sizes[url] = len(response.body()) + sum(
                    len(k) + len(v) + 4 for k, v in response.headers.items()
                )
        return self.sizes[url]

    def assert_fits(self, width: int, label: str) -> None:
        """No horizontal scrolling at `width` CSS pixels."""
        before = self.page.viewport_size
        self.page.set_viewport_size({"width": width, "height": before["height"]})
        try:
            scroll = self.page.evaluate("document.documentElement.scrollWidth")
            wide = self.page.evaluate(
                """(w) => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > w + 1)
                    .filter(e => !e.closest('.table-scroll, .table-wrap'))
                    .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)""",
                width,
            )
            assert scroll <= width, f"{label}: {scroll} px wide at {width} px: {wide}"
        finally:
            self.page.set_viewport_size(before)

    def screenshot(self, label: str) -> None:
        """Full-page screenshots at phone and desktop width."""
        before = self.page.viewport_size
        slug = _SLUG.sub("-", label.lower()).strip("-")
        try:
            for size in (PHONE, DESKTOP):
                self.page.set_viewport_size(size)
                self.page.screenshot(
                    path=str(self.shots / f"{slug}-{size['width']}.png"), full_page=True
                )
        finally:
            self.page.set_viewport_size(before)


def _transferred(request: Any) -> int:
    """Body plus headers of a finished request's response, as Chromium counted them."""
    sizes = request.sizes()
    return int(sizes["responseBodySize"]) + int(sizes["responseHeadersSize"])
