"""The report in real headless Chromium: no console errors, no script from trace content, links work."""

from __future__ import annotations

from pathlib import Path

import pytest
from _report_data import add_reference_set, build_store, require_analysis
from conftest import require_tool

from mastlens.report import render_html

compute_stats, compute_agreement = require_analysis()

pytestmark = pytest.mark.chromium

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    executable = require_tool("/usr/bin/chromium", "Debian chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _open(browser, path: Path):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems, requests


def _write(tmp_path: Path, store, name: str, **kwargs) -> Path:  # noqa: ANN001
    stats = compute_stats(store, "judge-a", **kwargs)
    agreement = compute_agreement(store, "human", "judge-a") if store.get_set("human") else None
    path = tmp_path / name
    path.write_text(render_html(store, "judge-a", stats, agreement=agreement), encoding="utf-8")
    return path


def test_report_renders_and_links_work(browser, store, tmp_path):
    ids = build_store(store, per_model=10)
    add_reference_set(store, ids)
    path = _write(tmp_path, store, "report.html")
    page, problems, requests = _open(browser, path)
    assert problems == []
    assert [u for u in requests if not u.startswith("file://")] == []
    dangling = page.evaluate("""() => Array.from(document.querySelectorAll('a[href^="#"]'))
        .map(a => a.getAttribute('href').slice(1)).filter(id => !document.getElementById(id))""")
    assert dangling == []
    page.screenshot(path=str(tmp_path / "report-top.png"))
    # A link from the interventions to an example trace opens that trace's drill-down.
    link = page.locator("#interventions a.trace-id").first
    target = link.get_attribute("href")[1:]
    assert page.locator(f"#{target}").evaluate("el => el.open") is False
    link.click()
    # (wait_for_function with an expression needs eval, which the page's CSP may refuse)
    from playwright.sync_api import expect

    expect(page.locator(f"#{target}")).to_have_js_property("open", True)
    assert page.evaluate("location.hash") == f"#{target}"
    # Step links inside it scroll to the flagged step, which is visible.
    step_link = page.locator(f"#{target} ul.flags a[href*='-s']").first
    step_id = step_link.get_attribute("href")[1:]
    step_link.click()
    assert page.locator(f"#{step_id}").is_visible()
    page.screenshot(path=str(tmp_path / "report-trace.png"))
    # Filters: failed traces only, then one mode.
    total = page.locator("details.trace").count()
    page.select_option("#filter-outcome", "failure")
    visible = page.locator("details.trace:not(.hidden)").count()
    failed = page.locator("details.trace[data-outcome='failure']").count()
    assert visible == failed < total
    page.select_option("#filter-mode", "FM-1.5")
    expected = page.evaluate("""() => Array.from(document.querySelectorAll('details.trace'))
        .filter(d => d.dataset.outcome === 'failure' && d.dataset.modes.split(' ').includes('FM-1.5')).length""")
    assert page.locator("details.trace:not(.hidden)").count() == expected
    assert expected > 0
    page.click("#filter-reset")
    assert page.locator("details.trace:not(.hidden)").count() == total
    assert problems == []
    page.close()


def test_hostile_trace_content_does_not_run(browser, store, tmp_path):
    build_store(store, per_model=5, hostile=True)
    path = _write(tmp_path, store, "hostile.html")
    page, problems, requests = _open(browser, path)
    # Open every drill-down and hover/click what trace text could have turned into elements.
    page.evaluate("() => document.querySelectorAll('details.trace').forEach(d => d.open = true)")
    page.mouse.move(200, 300)
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert problems == []
    assert [u for u in requests if not u.startswith("file://")] == []
    layout = page.evaluate("""() => ({
        traces: document.querySelectorAll('section#traces > details.trace').length,
        allTraces: document.querySelectorAll('details.trace').length,
        glossaryInMain: document.getElementById('glossary').parentElement.tagName,
        sections: Array.from(document.querySelectorAll('main > section')).map(s => s.id),
        injected: document.querySelectorAll('#broken, #evil-link, img, iframe, main script').length,
        footerLast: document.body.lastElementChild.tagName,
    })""")
    assert layout["traces"] == layout["allTraces"] > 0
    assert layout["glossaryInMain"] == "MAIN"
    assert layout["sections"][-2:] == ["traces", "glossary"]
    assert layout["injected"] == 0
    assert layout["footerLast"] == "SCRIPT"
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=False)
    page.close()


def test_content_security_policy_refuses_foreign_scripts(browser, store, tmp_path):
    """Defence in depth: even markup that slipped past escaping could not run a script."""
    build_store(store, per_model=2)
    path = _write(tmp_path, store, "csp.html")
    html = path.read_text(encoding="utf-8")
    injected = html.replace('<section id="glossary">',
                            '<script>window.__pwned = "inline"</script><button id="b" onclick="window.__pwned=1">x</button>'
                            '<section id="glossary">', 1)
    path.write_text(injected, encoding="utf-8")
    page, problems, _ = _open(browser, path)
    page.click("#b")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert any("Content Security Policy" in p for p in problems)
    # Our own script still runs (the filters count the traces).
    assert "traces shown" in page.inner_text("#filter-count")
    page.close()


def test_print_shows_whole_step_texts(browser, store, tmp_path):
    """On paper nothing scrolls: printed step contents are shown whole, not clipped to a scroll box."""
    build_store(store, per_model=4)
    path = _write(tmp_path, store, "print.html")
    page, problems, _ = _open(browser, path)
    page.evaluate("() => document.querySelectorAll('details.trace').forEach(d => d.open = true)")
    clipped = "() => Array.from(document.querySelectorAll('pre.content')).filter(p => p.scrollHeight > p.clientHeight + 1).length"
    assert page.evaluate(clipped) > 0, "the data should have step texts longer than the on-screen box"
    page.emulate_media(media="print")
    assert page.evaluate(clipped) == 0
    assert problems == []
    page.close()
