"""The diff page and the report's Diff section in real headless Chromium: no console errors, no request off
the file, hostile trace content shown as text and never run."""

from __future__ import annotations

from pathlib import Path

import pytest
from _diff_runs import run_pair, store_pair
from test_report_chromium import _open, browser  # noqa: F401 - the shared Chromium fixture

from mastlens.analysis.diff_store import compute_diff
from mastlens.analysis.stats import compute_stats
from mastlens.report import render_html
from mastlens.report.diff_html import render_diff_html

pytestmark = pytest.mark.chromium

PAYLOADS = ["<script>window.__pwned='script'</script>", "<img src=x onerror=\"window.__pwned='img'\">",
            "</td></tr></table></section><h1 id=\"broken\">x</h1>", "<a id=\"evil-link\" href=\"javascript:1\">a</a>"]


@pytest.fixture
def hostile_store(store):  # noqa: ANN001, ANN201
    base, new = run_pair(1)
    hostile = " ".join(PAYLOADS)
    new["id"] = [f"{i}{hostile}" if k < 10 else i for k, i in enumerate(new["id"])]
    tasks = [f"{t}{PAYLOADS[k % len(PAYLOADS)]}" for k, t in enumerate(new["task"])]
    base["task"], new["task"] = tasks, tasks
    new["tag.run"] = f"new{PAYLOADS[1]}"
    store_pair(store, base, new, quote=hostile)
    return store, new["tag.run"].iloc[0]


def _check_inert(page, problems, requests) -> None:  # noqa: ANN001
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    page.mouse.move(300, 300)
    page.wait_for_timeout(100)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert problems == []
    assert [u for u in requests if not u.startswith("file://")] == []
    injected = page.evaluate("() => document.querySelectorAll('#broken, #evil-link, img, iframe, main script').length")
    assert injected == 0


def test_diff_page_renders_with_hostile_content_inert(browser, hostile_store, tmp_path: Path):  # noqa: F811
    store, new_name = hostile_store
    result = compute_diff(store, "base", new_name, match="task")
    path = tmp_path / "diff.html"
    path.write_text(render_diff_html(result), encoding="utf-8")
    page, problems, requests = _open(browser, path)
    _check_inert(page, problems, requests)
    layout = page.evaluate("""() => ({
        sections: Array.from(document.querySelectorAll('main > section')).map(s => s.id),
        significant: Array.from(document.querySelectorAll('#diff-modes tr.significant')).map(r => r.dataset.mode),
        flips: document.querySelectorAll('table.flips tbody tr').length,
        title: document.querySelector('h2').textContent,
        footerLast: document.body.lastElementChild.tagName,
    })""")
    assert layout["sections"] == ["diff"] and layout["footerLast"] == "FOOTER"
    assert {"FM-2.4", "FM-3.3"} <= set(layout["significant"])
    assert layout["flips"] == len(result.flips)
    assert PAYLOADS[1] in layout["title"]  # the hostile run name, as text
    page.screenshot(path=str(tmp_path / "diff.png"), full_page=True)
    page.close()


def test_report_diff_section_links_examples_to_drilldowns(browser, hostile_store, tmp_path: Path):  # noqa: F811
    store, new_name = hostile_store
    stats = compute_stats(store, "judge", group_by="run")
    diff = compute_diff(store, "base", new_name, set_name="judge", match="task")
    path = tmp_path / "report.html"
    path.write_text(render_html(store, "judge", stats, diff=diff), encoding="utf-8")
    page, problems, requests = _open(browser, path)
    _check_inert(page, problems, requests)
    assert page.locator("nav.toc a[href='#diff']").count() == 1
    link = page.locator("#diff-verdicts a.trace-id").first
    target = link.get_attribute("href")[1:]
    link.click()
    # (wait_for_function with an expression needs eval, which the page's CSP may refuse)
    from playwright.sync_api import expect

    expect(page.locator(f"#{target}")).to_have_js_property("open", True)
    assert problems == []
    page.close()
