"""The coverage rule (issue 10, section 4): whether the rules judge assesses a mode is decided by the
detector's precondition, never by the finding. Over every fixture and example trace this prints, per mode,
how often it came out present / absent / not assessed, and fails when a mode that is assessed somewhere
can never come out absent, or when a detector never finds its constructed positive."""

from __future__ import annotations

from collections import Counter

import pytest

import mastlens
from mastlens.judges.rules import DETECTORS, judge_trace
from mastlens.trace import ModeStatus, Trace
from rules_traces import READ_ONLY_TASK, TraceBuilder
from conftest import EXAMPLES, FIXTURES

PATCH = "kubectl patch configmap flagd-config -n otel-demo --type merge -p '{\"data\":{}}'"


def _all_traces() -> list[Trace]:
    traces: list[Trace] = []
    for root in (FIXTURES, EXAMPLES):
        if root.is_dir():
            traces += mastlens.load_traces(str(root))
    return traces


def _constructed_positives() -> dict[str, Trace]:
    """One small trace per detector, built to show its mode."""
    same = TraceBuilder()
    for _ in range(3):
        same.call("get_order", {"id": "R1"}, '{"status": "late"}')
    cycle = TraceBuilder()
    for _ in range(3):
        cycle.call("get_order", {"id": "R1"}, "late").call("get_carrier", {"id": "R1"}, "none")
    failed = TraceBuilder().call("issue_refund", {"id": "R1"}, "Error: no refund was created").say(
        "Your refund has been processed successfully and is confirmed.")
    retried = TraceBuilder("Book it.").call("book_reservation", {"cabin": "x"}, "Error: payment does not add up")
    retried.call("book_reservation", {"cabin": "y"}, '{"id": "R2"}').say("Booked.")
    reissued = TraceBuilder("Please cancel order RO-1 and refund it to my card.").say("Let me look at it.")
    reissued.call("get_order", {"id": "RO-1"}, "{}").user("Please cancel order RO-1 and refund it to my card.")
    gated = TraceBuilder("Move my flight to Friday.", system="Before any change to a booking, list the details and "
                         "obtain explicit user confirmation (yes) to proceed.")
    gated.call("get_booking", {"id": "B1"}, '{"date": "Thu"}').say("I can move it to Friday 9:00. Shall I?")
    gated.user("Could it be later in the day?").call("update_booking", {"id": "B1", "date": "Fri"}, '{"date": "Fri"}')
    return {
        "FM-1.1": gated.say("Moved.").build(),
        "FM-1.2": TraceBuilder(READ_ONLY_TASK).shell(PATCH, "configmap/flagd-config patched").say("Done.").build(),
        "FM-1.3": cycle.say("Still late.").build(),
        "FM-1.5": same.build(),
        "FM-2.1": reissued.say("Cancelled.").build(),
        "FM-2.5": failed.build(),
        "FM-3.1": TraceBuilder().call("get_order", {"id": "R1"}, "{}").say("I'll now cancel the order.").build(),
        "FM-3.2": retried.build(),
        "FM-3.3": failed.build(),
    }


def test_every_assessed_mode_can_come_out_absent_on_real_traces():
    traces = _all_traces()
    if not traces:
        pytest.skip("fixtures and examples not available")
    counts: dict[str, Counter] = {}
    for trace in traces:
        for mode, verdict in judge_trace(trace).modes.items():
            counts.setdefault(mode, Counter())[verdict.status] += 1
    print(f"\nrules coverage over {len(traces)} fixture and example traces (present / absent / not assessed):")
    for mode in sorted(counts):
        c = counts[mode]
        print(f"  {mode}: {c[ModeStatus.PRESENT]} / {c[ModeStatus.ABSENT]} / {c[ModeStatus.NOT_ASSESSED]}")
    for mode, c in counts.items():
        if mode not in DETECTORS:
            assert c[ModeStatus.PRESENT] == c[ModeStatus.ABSENT] == 0, mode  # no rule: never assessed
        elif c[ModeStatus.PRESENT] + c[ModeStatus.ABSENT]:
            assert c[ModeStatus.ABSENT] > 0, f"{mode} is assessed but never absent: present-or-not-assessed only"
    # every detector is assessed on some real trace, and comes out present on some real trace
    for mode in DETECTORS:
        assert counts[mode][ModeStatus.ABSENT] > 0, f"{mode} never assessed on real traces"
        assert counts[mode][ModeStatus.PRESENT] > 0, f"{mode} never present on real traces"


def test_every_detector_finds_its_constructed_positive():
    positives = _constructed_positives()
    assert set(positives) == set(DETECTORS)
    for mode, trace in positives.items():
        verdict = judge_trace(trace).modes[mode]
        assert verdict.status is ModeStatus.PRESENT, f"{mode}: {verdict.reason}"
        assert verdict.evidence and all(e.verified and e.quote for e in verdict.evidence)


def test_no_content_means_not_assessed_never_absent():
    """A trace recorded without message content (OTel instrumentation with capture off) gives detectors that
    need arguments, results or text nothing to read: they say not assessed, never absent (issue 15, item 4)."""
    for mode, trace in _constructed_positives().items():
        # what such an export reads to: steps and tool names, no text, arguments or results
        steps = [s.model_copy(update={"content": "", "arguments": None}) for s in trace.steps]
        bare = trace.model_copy(update={"steps": steps, "metadata": {**trace.metadata, "content_captured": False}})
        verdict = judge_trace(bare).modes[mode]
        assert verdict.status is ModeStatus.NOT_ASSESSED, f"{mode}: {verdict.status} {verdict.reason}"
