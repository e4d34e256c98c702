"""`mastlens review` in real headless Chromium against a real server: keyboard-only review, persistence,
agreement equal to `mastlens agree`, two reviewers at once, stale saves, hostile traces."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from _report_data import PAYLOADS, build_store
from _review_server import start_review
from test_report_chromium import browser  # noqa: F401 - the shared Debian Chromium fixture
from typer.testing import CliRunner

from mastlens.cli.app import app as cli_app
from mastlens.report.html import ci, num, pct
from mastlens.review import history
from mastlens.review.decisions import current_labels
from mastlens.trace import ModeStatus, Outcome, Source, Step, StepKind, Trace

pytestmark = pytest.mark.chromium

BIG_OUTPUT = 5 * 1024 * 1024


class Watched:
    """A browser context logged in with the server's token, recording console problems and requests."""

    def __init__(self, browser, server, *, javascript: bool = True):  # noqa: ANN001
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.base = server.base
        self.page.goto(server.url)  # the token becomes a cookie, then the queue without the token
        assert self.page.url == server.base + "/"

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.base)]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def served(store, db_path, tmp_path):
    build_store(store, per_model=4)
    server = start_review(db_path, tmp_path, "--set", "judge-a", "--as", "ann", "--sample", "8", "--seed", "1")
    yield server
    server.stop()


def _queue(store) -> list[str]:  # noqa: ANN001
    return [r[0] for r in store.conn.execute(
        "SELECT trace_id FROM review_queue_items i JOIN review_queues q ON q.id = i.queue_id ORDER BY position")]


def _checked(page, mode_id: str) -> str:  # noqa: ANN001
    return page.locator(f"input[name='status:{mode_id}']:checked").get_attribute("value")


def test_keyboard_review_persists_and_agreement_matches_the_cli(browser, served, store, db_path, tmp_path):
    w = Watched(browser, served)
    w.page.keyboard.press("n")  # the queue page's "review the next one": keyboard from the start
    w.page.wait_for_url("**/item/0")
    queue = _queue(store)
    for position in range(3):
        assert w.page.url.endswith(f"/item/{position}")
        w.page.keyboard.press("p")  # FM-1.1 present
        for _ in range(2):
            w.page.keyboard.press("j")
        w.page.keyboard.press("a")  # FM-1.3 absent
        w.page.keyboard.press("j")
        w.page.keyboard.press("u")  # FM-1.4 can't tell
        assert w.page.locator("fieldset.mode.selected").get_attribute("data-mode") == "FM-1.4"
        with w.page.expect_navigation():
            w.page.keyboard.press("s")
    assert w.page.url.endswith("/item/3")
    w.page.keyboard.press("n")  # next without saving
    w.page.wait_for_url("**/item/4")
    assert history(store, "human:ann", queue[3]) == []
    # Reload: the labels are the stored ones.
    w.goto("/item/1")
    w.page.reload()
    assert (_checked(w.page, "FM-1.1"), _checked(w.page, "FM-1.3"), _checked(w.page, "FM-1.4")) == (
        "present", "absent", "not_assessed")
    for trace_id in queue[:3]:
        labels = current_labels(store, "human:ann", trace_id)
        assert labels["FM-1.1"].status is ModeStatus.PRESENT
        assert labels["FM-1.3"].status is ModeStatus.ABSENT
        assert labels["FM-1.4"].status is ModeStatus.NOT_ASSESSED
    w.goto("/")
    assert "3 of 8 traces labelled" in w.page.inner_text("#progress")
    # The agreement page shows what `mastlens agree human:ann judge-a` prints.
    w.goto("/agreement")
    result = CliRunner().invoke(cli_app, ["agree", "human:ann", "judge-a", "--db", str(db_path), "--json"])
    assert result.exit_code == 0, result.output
    agree = json.loads(result.output)
    assert agree["n_traces"] == 3
    rows = w.page.evaluate("""() => Array.from(document.querySelectorAll('#agreement tr[data-mode]')).map(tr => ({
        mode: tr.dataset.mode, n: tr.querySelector('.n').textContent, kappa: tr.querySelector('.kappa').textContent,
        ci: tr.querySelector('.kappa-ci').textContent, precision: tr.querySelector('.precision').textContent,
        recall: tr.querySelector('.recall').textContent}))""")
    expected = [{"mode": s["id"], "n": str(s["n"]), "kappa": num(s["kappa"]), "ci": ci(s["kappa_ci"], "num"),
                 "precision": pct(s["precision"]), "recall": pct(s["recall"])} for s in [*agree["modes"], agree["micro"]]]
    assert rows == expected
    assert any(r["n"] == "3" for r in rows)
    w.page.screenshot(path=str(tmp_path / "agreement.png"))
    assert w.problems == [] and w.foreign_requests() == []
    w.close()


def test_two_reviewers_save_different_traces_at_once(browser, served, store):
    a, b = Watched(browser, served), Watched(browser, served)
    a.goto("/item/4")
    b.goto("/item/5")
    a.page.check("input[name='status:FM-2.1'][value='present']")
    a.page.fill("input[name='note:FM-2.1']", "reviewer A")
    b.page.check("input[name='status:FM-2.1'][value='absent']")
    b.page.fill("input[name='note:FM-2.1']", "reviewer B")
    # Both forms submitted before either response is awaited.
    a.page.evaluate("document.getElementById('review-form').requestSubmit()")
    b.page.evaluate("document.getElementById('review-form').requestSubmit()")
    a.page.wait_for_url(re.compile(r"/item/[56]$"))  # the next to do: 5 unless B's save landed first
    b.page.wait_for_url(re.compile(r"/item/6$"))
    queue = _queue(store)
    la, lb = current_labels(store, "human:ann", queue[4])["FM-2.1"], current_labels(store, "human:ann", queue[5])["FM-2.1"]
    assert (la.status, la.note) == (ModeStatus.PRESENT, "reviewer A")
    assert (lb.status, lb.note) == (ModeStatus.ABSENT, "reviewer B")
    notes = {(d["trace_id"], d["note"]) for d in history(store, "human:ann") if d["mode_id"] == "FM-2.1"}
    assert notes == {(queue[4], "reviewer A"), (queue[5], "reviewer B")}
    assert a.problems == b.problems == []
    a.close()
    b.close()


def test_saving_works_without_javascript(browser, served, store):
    w = Watched(browser, served, javascript=False)
    w.goto("/item/6")
    w.page.check("input[name='status:FM-3.2'][value='present']")
    w.page.fill("input[name='step:FM-3.2']", "2")
    with w.page.expect_navigation():
        w.page.click("#save")
    assert w.page.url.endswith("/item/7")
    label = current_labels(store, "human:ann", _queue(store)[6])["FM-3.2"]
    assert (label.status, label.step) == (ModeStatus.PRESENT, 2)
    assert w.problems == []
    w.close()


def test_a_save_for_changed_content_is_refused(browser, served, store):
    w = Watched(browser, served)
    w.goto("/item/2")
    trace_id = _queue(store)[2]
    trace = store.get_trace(trace_id)
    trace.steps[-1].content += " (re-run upstream)"
    assert store.add_trace(trace).action == "replaced"
    w.page.keyboard.press("p")
    w.page.keyboard.press("s")
    w.page.wait_for_selector("#error-message")
    assert "re-ingested with other content" in w.page.inner_text("#error-message")
    assert history(store, "human:ann", trace_id) == []
    w.page.click("#reload-link")
    w.page.wait_for_url("**/item/2")
    w.page.keyboard.press("p")
    with w.page.expect_navigation():
        w.page.keyboard.press("s")
    assert [d["status"] for d in history(store, "human:ann", trace_id) if d["mode_id"] == "FM-1.1"] == ["present"]
    console = [p for p in w.problems if "409" not in p]  # the refused save itself is a 409 response
    assert console == []
    w.close()


def _add_big_trace(store) -> str:  # noqa: ANN001
    lines = "".join(f"line {i} <script>window.__pwned='big'</script> <img src=x onerror=alert(1)>\n"
                    for i in range(BIG_OUTPUT // 64))
    trace = Trace(id="big-<b>tool</b>-output", source=Source(format="native", path="/data/big.jsonl"), model="big",
                  task="huge output", outcome=Outcome(success=False, success_from="source"),
                  steps=[Step(index=0, kind=StepKind.USER, content="list everything " + PAYLOADS[2]),
                         Step(index=1, kind=StepKind.TOOL_CALL, tool="ls", arguments={"path": "/"}),
                         Step(index=2, kind=StepKind.TOOL_RESULT, tool="ls", content=lines[:BIG_OUTPUT]),
                         Step(index=3, kind=StepKind.ASSISTANT, content="done " + PAYLOADS[3])])
    from mastlens.trace import Annotation, AnnotationStatus, Evidence, ModeVerdict, Verdict

    store.add_trace(trace)
    store.save_annotation(Annotation(trace_id=trace.id, set="judge-a", status=AnnotationStatus.OK, verdict=Verdict(
        summary=PAYLOADS[0], modes={"FM-1.3": ModeVerdict(id="FM-1.3", status=ModeStatus.PRESENT, confidence=0.6,
                                                          reason=PAYLOADS[1],
                                                          evidence=[Evidence(step=2, quote="line 7 <script>")])})))
    return trace.id


def test_hostile_traces_run_no_script(browser, store, db_path, tmp_path):
    build_store(store, per_model=3, hostile=True)
    big = _add_big_trace(store)
    server = start_review(db_path, tmp_path, "--set", "judge-a", "--as", "ann", "--sample", "100",
                          "--strategy", "random")
    try:
        w = Watched(browser, server)
        queue = _queue(store)
        assert big in queue
        w.goto("/?outcome=failure")
        assert w.page.locator("a.trace-link").count() > 0
        for position in range(len(queue)):
            w.goto(f"/item/{position}")
            w.page.mouse.move(300, 300)
            injected = w.page.evaluate("""() => document.querySelectorAll(
                '#broken, #evil-link, main img, iframe, main svg, main script, b[onmouseover]').length""")
            assert injected == 0, queue[position]
            assert w.page.locator("fieldset.mode").count() == 14
        w.goto(f"/item/{queue.index(big)}")
        assert w.page.locator("#c2 mark").count() >= 1  # the evidence quote, highlighted
        w.page.click("a.expand[data-target='c2']")
        # (wait_for_function would need eval, which the page's CSP refuses)
        w.page.locator("#c2.expanded").wait_for(state="attached")
        assert w.page.evaluate("document.getElementById('c2').textContent.length") == BIG_OUTPUT
        assert w.page.locator("#c2 script, #c2 img").count() == 0
        assert w.page.evaluate("typeof window.__pwned") == "undefined"
        # Still usable: label by keyboard and save.
        w.page.keyboard.press("p")
        with w.page.expect_navigation():
            w.page.keyboard.press("s")
        assert current_labels(store, "human:ann", big)["FM-1.1"].status is ModeStatus.PRESENT
        w.goto("/agreement")
        assert w.page.evaluate("typeof window.__pwned") == "undefined"
        assert w.problems == []
        assert w.foreign_requests() == []
        w.close()
    finally:
        server.stop()


def test_bundled_examples_review_then_agree(browser, tmp_path):
    """The issue's done-when: review the bundled examples' rules verdicts by keyboard, then `agree` shows it."""
    import getpass

    from conftest import EXAMPLES

    db = tmp_path / "examples.db"
    runner = CliRunner()
    for args in (["ingest", str(EXAMPLES)], ["annotate", "--judge", "rules"]):
        # in a thread: annotate runs its own event loop, and Playwright's is running in this one
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(runner.invoke, cli_app, [*args, "--db", str(db)]).result()
        assert result.exit_code == 0, result.output
    server = start_review(db, tmp_path, "--sample", "5")  # default set (rules) and reviewer (the OS user)
    try:
        assert any("reviewing rules into human:" in line for line in server.stdout_lines)
        w = Watched(browser, server)
        w.page.keyboard.press("n")  # the queue page's "review the next one"
        w.page.wait_for_url("**/item/0")
        w.page.keyboard.press("j")
        w.page.keyboard.press("p")  # FM-1.2 present
        with w.page.expect_navigation():
            w.page.keyboard.press("s")
        human = f"human:{getpass.getuser()}"
        result = runner.invoke(cli_app, ["agree", human, "rules", "--db", str(db), "--json"])
        assert result.exit_code == 0, result.output
        agree = json.loads(result.output)
        assert agree["n_traces"] == 1
        fm12 = next(s for s in agree["modes"] if s["id"] == "FM-1.2")
        assert fm12["n"] == 1 and fm12["tp"] + fm12["fn"] == 1
        assert w.problems == []
        w.close()
    finally:
        server.stop()
