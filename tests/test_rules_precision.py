"""The rules judge's confidences: the packaged validation precisions (judges/rules/precision.json) belong to the
current detectors, and a present verdict carries its mode's precision."""

from __future__ import annotations

from rules_traces import TraceBuilder

from mastlens.judges.rules import DETECTORS, judge_trace
from mastlens.judges.rules.config import RULES_VERSION
from mastlens.judges.rules.precision import measured_precision, precision_table
from mastlens.trace import ModeStatus


def test_the_table_was_written_by_these_rules_on_validation_runs():
    """Regenerate with ``python bench/bench_fidelity.py --split validate --write-precision`` after a detector
    change (a version bump without it fails here)."""
    table = precision_table()
    assert table["rules_version"] == RULES_VERSION and table["split"] == "validate"
    assert table["modes"] and set(table["modes"]) <= set(DETECTORS)
    for mode_id, entry in table["modes"].items():
        assert 0 < entry["flagged"] and 0 <= entry["hits"] <= entry["flagged"], mode_id
        assert entry["precision"] == round(entry["hits"] / entry["flagged"], 4), mode_id
        assert sum(c["flagged"] for c in entry["by_source"].values()) == entry["flagged"], mode_id
        assert "who&when" not in entry["by_source"]  # every Who&When run failed: no precision to learn there
    for source, base in table["failure_rate"].items():
        assert 0 < base["failed"] <= base["runs"] and base["rate"] == round(base["failed"] / base["runs"], 4), source


def test_a_finding_carries_its_detectors_validation_precision():
    trace = TraceBuilder().call("get_order", {"id": "R1"}, "{}").call("get_order", {"id": "R1"}, "{}") \
        .call("get_order", {"id": "R1"}, "{}").say("Still late.").build()
    verdict = judge_trace(trace)
    present = [m for m, v in verdict.modes.items() if v.status is ModeStatus.PRESENT]
    assert "FM-1.3" in present
    for mode_id in present:
        assert verdict.modes[mode_id].confidence == measured_precision(mode_id)
    assert measured_precision("FM-1.3") == precision_table()["modes"]["FM-1.3"]["precision"]
    assert measured_precision("FM-2.2") is None  # no detector, never measured
