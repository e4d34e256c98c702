"""Fidelity of a judge on labelled real runs: localization, agreement with humans, outcome separation.

Reproduce: ``python bench/bench_fidelity.py [--judge rules | --judge openai:MODEL --base-url URL]``

Runs the judge on the dev sets in ``../shared/devsets`` (tau-bench airline task_id 0-24, 100 runs with
rewards; 66 Who&When records with human attributions) and the MAST-Data human labels in
``../shared/fixtures/mast_data`` (19 traces), then prints one table:

* tau-bench: share of failed and of successful runs with any mode present; AUROC of the failure vector
  (number of present modes) for failure, with a seeded bootstrap 95% CI;
* Who&When: share of runs with any mode present; decisive step exact / within +-1 / +-3 and decisive agent
  accuracy against the human label, split Algorithm-Generated / Hand-Crafted (the judge's decisive step and
  agent, else its earliest present mode's first step and that step's agent), beside the naive baseline
  (decisive step = the first agent message) and the published baselines;
* MAST-Data: per-mode Cohen's kappa against the annotators' majority (set ``mad-majority``);
* coverage over every judged trace: modes never present, never absent, never assessed.

Every figure comes from the analysis functions ``agree`` and ``stats`` use (mastlens.analysis.localization,
mastlens.analysis.fidelity, mastlens.analysis.agreement).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from mastlens.analysis.agreement import compute_agreement
from mastlens.analysis.fidelity import outcome_separation
from mastlens.analysis.localization import localization_by_group, localization_pairs
from mastlens.analysis.vectors import failure_vectors, mode_matrices
from mastlens.judges.registry import get_judge
from mastlens.judges.runner import annotate_traces
from mastlens.store import Store
from mastlens.store.ingest import ingest
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import ModeStatus

ROOT = Path(__file__).resolve().parent.parent
SET = "bench"
ATTRIBUTION = "whowhen-attribution"
MAJORITY = "mad-majority"
# Published Who&When baselines (Zhang et al. 2025, hand-crafted, all-at-once GPT-4o; AgenTracer-8B, Zhang et al.
# 2025): agent accuracy, step accuracy.
PUBLISHED = {"all-at-once GPT-4o (Who&When, hand-crafted)": (0.535, 0.142),
             "AgenTracer-8B (hand-crafted)": (0.691, 0.207)}


def _shared_dir() -> Path:
    import os

    return Path(os.environ.get("MASTLENS_SHARED") or ROOT.parent / "shared")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ci(ci: tuple[float, float] | None, pct: bool = True) -> str:
    if ci is None:
        return ""
    return f" [{_pct(ci[0])}, {_pct(ci[1])}]" if pct else f" [{ci[0]:.2f}, {ci[1]:.2f}]"


def tau_figures(store: Store, ids: set[str]) -> dict:
    df = failure_vectors(store, SET)
    df = df[df["id"].isin(ids)]
    mode_ids = [m for m in load_taxonomy().ids if m in df.columns]
    present, _, _ = mode_matrices(df, mode_ids)
    success = df["success"].astype("Int8").fillna(-1).to_numpy(dtype=np.int8)
    return outcome_separation(present, success, group="tau-bench").model_dump(mode="json")


def whowhen_figures(store: Store, ids: set[str]) -> dict:
    anns = {a.trace_id: a.verdict for a in store.get_annotations(SET) if a.verdict is not None and a.trace_id in ids}
    flagged = sum(bool(v.present()) for v in anns.values())
    judged = localization_by_group(localization_pairs(store, ATTRIBUTION, SET, group_by="subset"))
    naive = localization_by_group(localization_pairs(store, ATTRIBUTION, None, group_by="subset", baseline=True))
    return {"n": len(anns), "any_mode": flagged / len(anns) if anns else None,
            "judge": [x.model_dump(mode="json") for x in judged], "naive": [x.model_dump(mode="json") for x in naive]}


def coverage(store: Store) -> dict[str, dict[str, int]]:
    counts = {m: {"present": 0, "absent": 0, "not_assessed": 0} for m in load_taxonomy().ids}
    for ann in store.get_annotations(SET):
        for mode_id, m in (ann.verdict.modes.items() if ann.verdict else []):
            if mode_id in counts:
                counts[mode_id][m.status.value] += 1
    return counts


def run(args: argparse.Namespace, db: Path) -> dict:
    shared = Path(args.shared) if args.shared else _shared_dir()
    paths = [shared / "devsets" / "tau_bench", shared / "devsets" / "who_and_when", shared / "fixtures" / "mast_data"]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        sys.exit(f"bench_fidelity: missing data folder(s): {', '.join(missing)} (set MASTLENS_SHARED or --shared)")
    with Store(db) as store:
        report = ingest([str(p) for p in paths], store)
        if report.failed:
            for f in report.failed:
                print(f"failed: {f.describe()}", file=sys.stderr)
        options = {"base_url": args.base_url} if args.base_url else {}
        if args.api_key:
            options["api_key"] = args.api_key
        judge = get_judge(args.judge, **options)
        summary = annotate_traces(store, judge, set_name=SET, concurrency=args.concurrency, replace=True)
        by_format: dict[str, set[str]] = {}
        for row in store.trace_rows():
            by_format.setdefault(row.format, set()).add(row.id)
        agreement = compute_agreement(store, MAJORITY, SET)
        return {
            "judge": args.judge, "traces": summary.traces, "annotated": summary.annotated, "errors": summary.errors,
            "tau_bench": tau_figures(store, by_format.get("tau", set())),
            "who_and_when": whowhen_figures(store, by_format.get("whowhen", set())),
            "mast_data": [{"id": s.id, "n": s.n, "positives": s.tp + s.fn, "kappa": s.kappa, "kappa_ci": s.kappa_ci}
                          for s in agreement.modes],
            "coverage": coverage(store),
        }


def _loc_row(label: str, loc: dict) -> str:
    return (f"  {label:<48} n={loc['n_step']:>3}  step exact {_pct(loc['step_exact']):>6}"
            f"  +-1 {_pct(loc['step_within_1']):>6}  +-3 {_pct(loc['step_within_3']):>6}  agent {_pct(loc['agent']):>6}  no step {_pct(loc['no_step'])}")


def print_table(out: dict, args: argparse.Namespace) -> None:
    print(f"judge {out['judge']}: {out['annotated']}/{out['traces']} traces annotated, {out['errors']} errors")
    tau = out["tau_bench"]
    print(f"\ntau-bench airline dev ({tau['n']} runs: {tau['n_failed']} failed, {tau['n_success']} successful)")
    print(f"  any mode present: failed {_pct(tau['flagged_failed'])}, successful {_pct(tau['flagged_success'])}")
    auroc = "-" if tau["auroc"] is None else f"{tau['auroc']:.2f}{_ci(tau['auroc_ci'], pct=False)}"
    note = f"; {tau['note']}" if tau["note"] else ""
    print(f"  AUROC of the failure vector for failure: {auroc} (chance 0.50){note}")
    ww = out["who_and_when"]
    print(f"\nWho&When dev ({ww['n']} failed runs): any mode present {_pct(ww['any_mode'])}")
    naive = {x["group"]: x for x in ww["naive"]}
    for loc in ww["judge"]:
        print(_loc_row(f"{loc['group']}: judge", loc))
        if loc["group"] in naive:
            print(_loc_row(f"{loc['group']}: naive first agent message", naive[loc["group"]]))
    for name, (agent, step) in PUBLISHED.items():
        print(f"  published {name}: step exact {_pct(step)}, agent {_pct(agent)}")
    print("\nMAST-Data human labels (19 traces): Cohen's kappa vs the annotators' majority, per mode")
    for s in out["mast_data"]:
        if s["n"]:
            kappa = "-" if s["kappa"] is None else f"{s['kappa']:+.2f}{_ci(s['kappa_ci'], pct=False)}"
            print(f"  {s['id']:<7} assessed on {s['n']:>2}, {s['positives']:>2} positives: kappa {kappa}")
    unassessed = [s["id"] for s in out["mast_data"] if not s["n"]]
    print(f"  not assessed by both: {', '.join(unassessed) or 'none'}")
    cov = out["coverage"]
    assessed = {m: c for m, c in cov.items() if c["present"] + c["absent"]}
    print("\ncoverage over every judged trace")
    print(f"  never assessed: {', '.join(m for m in cov if m not in assessed) or 'none'}")
    print(f"  assessed but never present: {', '.join(m for m, c in assessed.items() if not c['present']) or 'none'}")
    print(f"  assessed but never absent: {', '.join(m for m, c in assessed.items() if not c['absent']) or 'none'}")
    extra = f" --base-url {args.base_url}" if args.base_url else ""
    print(f"\nreproduce: python bench/bench_fidelity.py --judge {args.judge}{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", default="rules", help="rules, or provider:model for an OpenAI-compatible endpoint")
    ap.add_argument("--base-url", default=None, help="the endpoint of an LLM judge (e.g. http://127.0.0.1:8080/v1)")
    ap.add_argument("--api-key", default=None, help="the endpoint's key (default: OPENAI_API_KEY / MASTLENS_API_KEY)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--shared", default=None, help="the shared data folder (default ../shared or MASTLENS_SHARED)")
    ap.add_argument("--db", default=None, help="keep the store here (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON instead of the table")
    args = ap.parse_args()
    if args.db:
        out = run(args, Path(args.db))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = run(args, Path(tmp) / "fidelity.db")
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print_table(out, args)


if __name__ == "__main__":
    main()
