"""Live verdicts over the real fixture and dev-set traces, fed one step at a time: the verdict at the end of a
run is the batch rules judge's, and no alert raised while the run was going is one the batch judge does not
bear out."""

from __future__ import annotations

from pathlib import Path

import pytest

from mastlens.adapters.loader import FileResult, walk
from mastlens.guard.live import ONGOING_MODES, Budget, LiveRun
from mastlens.judges.rules import judge_trace
from mastlens.trace import ModeStatus, Source, Step, StepKind, Trace

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SOURCES = [SHARED / "fixtures", SHARED / "devsets"]
pytestmark = pytest.mark.skipif(not all(p.exists() for p in SOURCES), reason="shared fixtures/devsets not present")


def sample_paths(per_set: int = 12) -> list[Path]:
    """Every fixture, and the first ``per_set`` files of each dev set (the test feeds each step by step)."""
    paths = [SHARED / "fixtures"]
    for devset in sorted(p for p in (SHARED / "devsets").iterdir() if p.is_dir()):
        files = sorted(p for p in devset.rglob("*") if p.is_file() and not p.name.startswith(("LICENSE", "exit_")))
        paths += files[:per_set]
    return paths


def real_traces(limit_steps: int = 400, per_file: int = 12):
    """Traces of the sampled files (the first ``per_file`` of a file holding many)."""
    for result in walk(sample_paths()):
        if isinstance(result, FileResult):
            for trace in [t for t in result.traces if len(t.steps) <= limit_steps][:per_file]:
                yield result.path, trace


def test_final_verdict_is_the_batch_verdict_and_live_alerts_hold():
    traces = formats = 0
    seen_formats: set[str] = set()
    live_alerts: list[tuple[str, str, str]] = []
    for path, trace in real_traces():
        run = LiveRun(trace.id, path)
        alerts = [a for step in trace.steps for a in run.add([step])]
        end = run.judge_whole(trace, final=True)
        batch = judge_trace(trace)
        assert run.final is not None
        assert {m: (v.status, v.reason) for m, v in run.final.modes.items()} == \
            {m: (v.status, v.reason) for m, v in batch.modes.items()}, (path, trace.id)
        for alert in alerts:
            assert alert.mode in ONGOING_MODES
            assert batch.modes[alert.mode].status is ModeStatus.PRESENT, (path, trace.id, alert.mode, alert.step)
            live_alerts.append((path, trace.id, alert.mode))
        # every mode the batch judge finds is alerted once, live or at the end
        raised = [a.mode for a in alerts + end]
        assert sorted(raised) == sorted(batch.present()), (path, trace.id)
        traces += 1
        seen_formats.add(trace.source.format)
    formats = len(seen_formats)
    assert traces > 60 and formats >= 5, (traces, seen_formats)
    assert len(live_alerts) >= 3  # the dev sets do hold loops and passed-over errors to catch while running


def _call(i: int, cmd: str, out: str, code: int) -> list[Step]:
    return [Step(index=2 * i, kind=StepKind.TOOL_CALL, tool="shell", arguments={"command": cmd}, call_id=f"c{i}",
                 content=cmd),
            Step(index=2 * i + 1, kind=StepKind.TOOL_RESULT, tool="shell", call_id=f"c{i}", content=out,
                 metadata={"exit_code": code})]


def test_an_alert_fires_on_the_step_that_completes_the_loop_and_once():
    steps = [s for i in range(6) for s in _call(i, "kubectl get pod web-0", "Error from server (NotFound)", 1)]
    run = LiveRun("r", "test")
    fired = [(step.index, a.mode) for step in steps for a in run.add([step])]
    # the step at which the batch judge, given the run so far, first finds the loop
    first = next(n for n in range(len(steps))
                 if judge_trace(Trace(id="r", source=Source(format="test"), steps=steps[:n + 1]))
                 .modes["FM-1.3"].status is ModeStatus.PRESENT)
    assert fired == [(first, "FM-1.3")]  # raised then, and never again


def test_quiet_replay_raises_nothing_and_restored_alerts_do_not_repeat():
    steps = [s for i in range(4) for s in _call(i, "ls /nope", "ls: cannot access '/nope': No such file", 2)]
    first = LiveRun("r", "test")
    assert [a.mode for a in first.add(steps)] == ["FM-1.3"]
    again = LiveRun("r", "test", alerted=first.alerted)
    assert again.add(steps[:4], quiet=True) == []
    assert again.add(steps[4:]) == []


def test_step_budget_alerts_once():
    run = LiveRun("r", "test", budget=Budget(steps=3))
    out = [a for i in range(3) for s in _call(i, f"echo {i}", f"{i}", 0) for a in run.add([s])]
    assert [(a.kind, a.mode, a.step) for a in out] == [("budget", "FM-1.5", 2)]
    assert "--budget-steps 3" in out[0].reason


def test_the_live_window_view_is_the_rules_view_of_the_same_steps():
    """The live view memoizes call keys and failures; it must pair and judge exactly as TraceView.build."""
    from mastlens.judges.rules import DEFAULT_CONFIG
    from mastlens.judges.rules.view import TraceView

    def shape(view):
        return ([(c.step.index, c.result.index if c.result else None, c.failed, c.key) for c in view.calls],
                [s.index for s in view.agent_steps])

    compared = 0
    for path, trace in real_traces(per_file=3):
        run = LiveRun(trace.id, path, window=12)
        for step in trace.steps:
            run.add([step], quiet=True)
            view = run.live_view()
            assert shape(view) == shape(TraceView.build(view.trace, DEFAULT_CONFIG)), (path, trace.id, step.index)
            compared += 1
    assert compared > 1000
