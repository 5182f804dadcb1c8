"""What every page must show in a real browser, at a desktop and a phone width: no
server error, no console error (a Content-Security-Policy refusal is one), no sideways
scroll of the whole page, and no serious or critical accessibility violation by axe-core
(the axe build that axe-playwright-python ships on PyPI: injected from disk, never from a
CDN). A screenshot of each page at each width goes to var/screenshots/<journey>/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import ConsoleMessage, Page, Response

from tests.browser.harness import SCREENSHOTS

WIDTHS = {"desktop": 1280, "phone": 390}
HEIGHT = 900
BLOCKING_IMPACTS = ("serious", "critical")
AXE = Axe()


@dataclass
class Watched:
    """Console errors and failed responses seen while a page was open."""

    console_errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def response(self, response: Response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")


def watch(page: Page) -> Watched:
    watched = Watched()
    page.on("console", watched.console)
    page.on("response", watched.response)
    return watched


def axe_blocking(page: Page) -> list[str]:
    # Injected once per loaded page (the script is half a megabyte), run at each width.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.axe_script)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        if violation.get("impact") in BLOCKING_IMPACTS:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
            found.append(
                f"{violation['impact']} {violation['id']}: {violation['help']} at {targets}"
            )
    return found


def overflow(page: Page) -> dict | None:
    """The page's own width when it is wider than the window, with the widest culprits."""
    return page.evaluate(
        """() => {
          const root = document.documentElement;
          if (root.scrollWidth <= window.innerWidth) return null;
          // Content inside a box that scrolls on its own does not widen the page.
          const clipped = el => {
            for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
              if (getComputedStyle(up).overflowX !== 'visible') return true;
            }
            return false;
          };
          const wide = [...document.body.querySelectorAll('*')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(el => !clipped(el))
            .slice(-5)
            .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
          return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, wide};
        }"""
    )


def structure(page: Page) -> list[str]:
    """What axe counts as minor but a person notices: one main heading per page, ids
    that are unique (a label tied to a duplicated id names the wrong field), and in a
    table that stacks into cards on a phone (table.stack), every cell labelled with its
    column's header (data-label), or the card shows a value with no name."""
    return page.evaluate(
        """() => {
          const problems = [];
          const h1 = document.querySelectorAll('h1').length;
          if (h1 !== 1) problems.push(`${h1} h1 elements`);
          const seen = new Map();
          for (const el of document.querySelectorAll('[id]')) {
            seen.set(el.id, (seen.get(el.id) || 0) + 1);
          }
          for (const [id, count] of seen) {
            if (count > 1) problems.push(`id "${id}" used ${count} times`);
          }
          for (const table of document.querySelectorAll('table.stack')) {
            const headers = [...table.querySelectorAll(':scope > thead > tr > th')]
              .map(th => th.textContent.trim());
            for (const row of table.querySelectorAll(':scope > tbody > tr')) {
              // A row of one spanning cell ("Nobody matches.") needs no column name.
              if (row.cells.length !== headers.length) continue;
              [...row.cells].forEach((cell, index) => {
                if (cell.dataset.label !== headers[index]) {
                  problems.push(
                    `table.stack cell ${index + 1} is labelled "${cell.dataset.label}", `
                    + `its column "${headers[index]}"`);
                }
              });
            }
          }
          return problems;
        }"""
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class Tab:
    """One browser page and what went wrong on it while it was open."""

    page: Page
    watched: Watched
    expected_status: int = 200

    def open(self, url: str, *, expect_status: int = 200) -> Response:
        self.expected_status = expect_status
        response = self.page.goto(url)
        assert response is not None, f"no response for {url}"
        assert response.status == expect_status, f"{url} answered {response.status}"
        return response

    def check(self, *, journey: str, name: str) -> None:
        """Checks the open page at both widths and saves its screenshots. Problems are
        collected first, so one failure names them all."""
        page = self.page
        problems = [f"server error: {error}" for error in self.watched.server_errors]
        # Chromium logs the document's own status when it is an error; that one is meant.
        meant = f"the server responded with a status of {self.expected_status} "
        problems += [
            f"console error: {error}"
            for error in self.watched.console_errors
            if self.expected_status == 200 or meant not in error
        ]
        problems += structure(page)
        folder = SCREENSHOTS / _slug(journey)
        folder.mkdir(parents=True, exist_ok=True)
        for label, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": HEIGHT})
            too_wide = overflow(page)
            if too_wide:
                problems.append(f"at {width} px the page scrolls sideways: {too_wide}")
            for violation in axe_blocking(page):
                problems.append(f"at {width} px axe: {violation}")
            page.screenshot(path=folder / f"{_slug(name)}-{label}.png", full_page=True)
        page.set_viewport_size({"width": WIDTHS["desktop"], "height": HEIGHT})
        self.watched.server_errors.clear()
        self.watched.console_errors.clear()
        assert problems == [], f"{journey} / {name} ({page.url}):\n" + "\n".join(problems)


def tab_new(context) -> Tab:
    page = context.new_page()
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": HEIGHT})
    return Tab(page=page, watched=watch(page))
