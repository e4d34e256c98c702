"""Each rules detector's precision on the validation runs: the confidence the rules judge gives a present verdict.

Precision of a mode = of the validation runs where the rules found it present, the share that show it really
went wrong: a failed run (tau-bench, tau2, SWE-bench: the benchmark's own outcome) or a run the MAST-Data
annotators' majority labelled with that mode. Who&When is left out: every run there failed, so its precision
would be 1 by construction. The file also keeps, per source, the runs flagged, the hits and the source's
failure rate (a detector that fires at random on a source where most runs fail still scores high there: read
precision beside the base rate).

Regenerate: ``python bench/bench_fidelity.py --split validate --write-precision`` (rewrites
``src/mastlens/judges/rules/precision.json``; the figures printed are the same run's).
"""

from __future__ import annotations

import json
from pathlib import Path

from _fidelity_figures import MAJORITY
from _fidelity_sources import Origin, ids_by_group
from mastlens.analysis.agreement import statuses
from mastlens.judges.rules.config import RULES_VERSION, DEFAULT_CONFIG
from mastlens.judges.rules.precision import PRECISION_FILE
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy

SPLIT = "validate"


def detector_precision(store: Store, set_name: str, known: dict[str, Origin]) -> dict:
    """The precision table (the content of ``precision.json``) of ``set_name`` on the validation runs."""
    mode_ids = load_taxonomy().ids
    judged = statuses(store, set_name, mode_ids)
    labels = statuses(store, MAJORITY, mode_ids) if store.get_set(MAJORITY) is not None else {}
    success = {r.id: r.success for r in store.trace_rows()}
    per_mode: dict[str, dict] = {m: {"flagged": 0, "hits": 0, "by_source": {}} for m in mode_ids}
    base: dict[str, dict] = {}
    for source, ids in ids_by_group(store, SPLIT, by="source", known=known).items():
        if source == "who&when":
            continue
        for trace_id in sorted(ids):
            row = judged.get(trace_id)
            if row is None:
                continue
            if source == "mast-data":
                truth = labels.get(trace_id)
                if truth is None:
                    continue
            else:
                if success.get(trace_id) is None:
                    continue
                outcome = base.setdefault(source, {"runs": 0, "failed": 0})
                outcome["runs"] += 1
                outcome["failed"] += success[trace_id] is False
            for j, mode_id in enumerate(mode_ids):
                if row[j] != 1:
                    continue
                if source == "mast-data":
                    if truth[j] < 0:
                        continue  # the annotators did not assess the mode
                    hit = truth[j] == 1
                else:
                    hit = success[trace_id] is False
                entry = per_mode[mode_id]
                cell = entry["by_source"].setdefault(source, {"flagged": 0, "hits": 0})
                for counts in (entry, cell):
                    counts["flagged"] += 1
                    counts["hits"] += int(hit)
    modes = {}
    for mode_id, entry in per_mode.items():
        if entry["flagged"]:
            modes[mode_id] = {"precision": round(entry["hits"] / entry["flagged"], 4), **entry}
    return {"rules_version": RULES_VERSION, "config": DEFAULT_CONFIG.fingerprint(), "split": SPLIT,
            "regenerate": "python bench/bench_fidelity.py --split validate --write-precision",
            "hit": "a failed run (tau-bench, tau2, SWE-bench) or the MAST-Data majority label present",
            "failure_rate": {s: {**b, "rate": round(b["failed"] / b["runs"], 4)} for s, b in sorted(base.items())},
            "modes": modes}


def write_precision(table: dict, path: Path = PRECISION_FILE) -> Path:
    path.write_text(json.dumps(table, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
