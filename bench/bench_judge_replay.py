"""Measure the LLM judge with any capable model, no API needed: dump its requests, replay the answers.

Reproduce:
  python bench/bench_judge_replay.py --dump DIR [--variant NAME] [--split validate] [--sample default]
  (answer every DIR/<hash>.request.json as DIR/<hash>.answer.json: see DIR/INDEX.md)
  python bench/bench_judge_replay.py --answers DIR [--variant NAME] [--split validate] [--sample default]

``--dump`` writes every request the judge would send for the selected dev-set runs (tau-bench airline, Who&When,
MAST-Data, and SWE-bench / tau2 when their readers are installed), one file per request keyed by a hash of its
messages, with the response schema, plus INDEX.md telling an answerer how to answer. Nothing in the folder names
a trace or its outcome. Run it again after answers arrive: requests that depend on earlier answers (a two-pass
variant's second question, the corrective retry after an unusable answer) are added.

``--answers`` serves the answers through a local OpenAI-compatible endpoint on 127.0.0.1 (real HTTP), runs the
real annotate pipeline against it (response format, parsing, corrective retry, evidence verification, storage)
and prints the fidelity figures per source. A request without an answer gets an error reply: its trace is
counted as an error, never as absent.

The runs are the ``--split`` half (``bench/devsplit.py``; validate by default) of each source, sampled per
stratum (tau-bench / tau2 / SWE-bench: failed and successful; Who&When: algorithm-generated and hand-crafted;
MAST-Data: all) by a keyed hash of the trace id, so a dump stays small enough for a person to answer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

from _fidelity_sources import origin_of  # noqa: E402
from _replay_figures import figures_for, print_figures  # noqa: E402
from _replay_io import (  # noqa: E402
    NO_ANSWER, AnswerServer, dumped_trace_keys, git_commit, load_answers, request_record, trace_block, trace_key,
    write_index, write_requests,
)
from devsplit import in_split  # noqa: E402

from mastlens.judges.llm import LLMJudge  # noqa: E402
from mastlens.judges.llm.client import ResponseFormat, response_format_param  # noqa: E402
from mastlens.judges.llm.localize import LOCALIZE_SYSTEM  # noqa: E402
from mastlens.judges.runner import annotate_traces  # noqa: E402
from mastlens.store import Store  # noqa: E402
from mastlens.store.ingest import ingest  # noqa: E402
from mastlens.trace import Trace  # noqa: E402

SET = "replay"
DATA = ("devsets/tau_bench", "devsets/who_and_when", "fixtures/mast_data", "devsets/swe_bench", "devsets/tau2")
# per stratum: tau-bench 8 failed + 8 successful, Who&When 12 + 12, SWE-bench 6 + 6; MAST-Data every trace
DEFAULT_SAMPLE = {"tau-bench": 8, "tau2": 8, "swe-bench": 6, "who&when": 12, "mast-data": None}
KIND = {"who&when": "localization", "mast-data": "kappa"}


@dataclass(frozen=True)
class Variant:
    """A judge configuration to measure: what it is, the LLMJudge options, and whether its first-pass answers are
    found by trace (answers written for requests another commit's prompt produced: the baseline)."""

    about: str
    options: dict = field(default_factory=dict)
    by_trace: bool = False


BASELINE_COMMIT = "e3381dcabd7b1ef6caf17f94a9bb1d17a7006a94"
# prompt mastlens-judge-4, measured on the validate split and not kept (docs/llm-judge-replay.md)
JUDGE4_COMMIT = "3d0c2ff1bc789dbfe427c1fefc75496908ea6385"
VARIANTS: dict[str, Variant] = {
    "baseline": Variant(f"one pass, prompt mastlens-judge-2 (main before issue 22): the requests dumped at commit "
                        f"{BASELINE_COMMIT[:7]}, their answers found by trace", by_trace=True),
    "baseline-localize": Variant("baseline's first-pass answers, then the second, focused localization pass",
                                 {"localize": True}, by_trace=True),
    "modes": Variant("one pass, prompt mastlens-judge-3: the modes' boundaries as MAST's annotators read them, and "
                     "the decisive agent and step defined as in Who&When"),
    "modes-localize": Variant("modes, then the second, focused localization pass for runs that went wrong",
                              {"localize": True}),
    "judge4": Variant(f"one pass, prompt mastlens-judge-4 (not kept: tau-bench separation fell): every mode a fault "
                      f"meets, verification and termination judged on every run, a shorter prompt; the requests "
                      f"dumped at commit {JUDGE4_COMMIT[:7]}, their answers found by trace", by_trace=True),
}


def _stratum(trace: Trace, source: str) -> str:
    """The sampling stratum of a dev-set trace: its outcome (tau-bench, tau2, SWE-bench), its Who&When subset,
    or one stratum for MAST-Data."""
    if source == "who&when":
        subset = trace.metadata.get("subset")
        return str(subset) if subset not in (None, "") else "unknown"
    if source == "mast-data":
        return "all"
    return {True: "successful", False: "failed"}.get(trace.outcome.success, "unknown")


def _order(trace_id: str) -> str:
    return hashlib.sha256(f"mastlens-replay-sample|{trace_id}".encode()).hexdigest()


def select(store: Store, split: str, sample: dict[str, int | None]) -> dict[str, list[str]]:
    """source -> the trace ids to judge: the split's traces, the first ``sample[source]`` of each stratum in the
    keyed-hash order (None: all)."""
    strata: dict[tuple[str, str], list[str]] = {}
    for trace in store.iter_traces():
        origin = origin_of(trace)  # the source and task bench_fidelity splits by, so both benches split alike
        if origin is not None and in_split(origin.source, origin.task, split):
            strata.setdefault((origin.source, _stratum(trace, origin.source)), []).append(trace.id)
    out: dict[str, list[str]] = {}
    for (source, _), ids in sorted(strata.items()):
        limit = sample.get(source)
        out.setdefault(source, []).extend(sorted(ids, key=_order)[:limit] if limit is not None else sorted(ids))
    return {s: sorted(ids) for s, ids in out.items()}


def make_judge(variant: str, url: str) -> LLMJudge:
    return LLMJudge("replay", base_url=url, api_key="replay", max_retries=0, timeout=120, **VARIANTS[variant].options)


def _sample_option(text: str) -> dict[str, int | None]:
    sample = dict(DEFAULT_SAMPLE)
    if text == "all":
        return {s: None for s in sample}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part == "default":
            continue
        source, _, n = part.partition("=")
        if source not in sample or not n:
            raise argparse.ArgumentTypeError(f"--sample: {part!r} is not SOURCE=N with SOURCE one of {', '.join(sample)}")
        sample[source] = None if n == "all" else int(n)
    return sample


def _ingest(shared: Path, store: Store) -> None:
    paths = [shared / p for p in DATA if (shared / p).exists()]
    if not paths:
        sys.exit(f"bench_judge_replay: no dev sets under {shared} (set MASTLENS_SHARED or --shared)")
    report = ingest([str(p) for p in paths], store)
    if report.failed:
        print(f"note: {len(report.failed)} file(s) not read (no reader yet, or bad input): "
              f"{report.failed[0].describe()}{' ...' if len(report.failed) > 1 else ''}", file=sys.stderr)


def _replay(store: Store, judge: LLMJudge, ids: list[str], concurrency: int):
    return annotate_traces(store, judge, trace_ids=ids, set_name=SET, concurrency=concurrency, replace=True)


def _kind_of(request: dict) -> str | None:
    """Which pass a request is: "first", "localize", or None for a corrective retry (never matched by trace)."""
    messages = request.get("messages") or []
    if len(messages) != 2:
        return None
    return "localize" if messages[0].get("content") == LOCALIZE_SYSTEM else "first"


def answer_server(args: argparse.Namespace, store: Store, ids: list[str], folder: Path) -> AnswerServer:
    """The endpoint for the answers in ``folder`` and the ``--also-answers`` folders (the first folder holding a
    hash wins). It places every request by the rendered trace it carries; with ``--match trace`` (or a baseline
    variant) a request whose text changed since the dump is served the answer given for the same trace window."""
    folders = [folder, *(Path(f) for f in args.also_answers)]
    answers: dict[str, str] = {}
    dumped: dict[str, str] = {}
    for f in reversed(folders):
        answers.update(load_answers(f, settled_for=args.settle if args.dump else 0.0))
        dumped.update(dumped_trace_keys(f))
    judge = make_judge(args.variant, "http://127.0.0.1:9/v1")
    windows = {}
    for trace in store.iter_traces(ids):
        for window, messages in enumerate(judge.first_requests(trace)):
            windows[trace_block({"messages": messages}) or ""] = (trace.content_hash(), window)
    by_trace = {}
    if args.match == "trace" or VARIANTS[args.variant].by_trace:
        by_trace = {key: answers[h] for key, h in dumped.items() if h in answers}
    return AnswerServer(answers, windows=windows, by_trace=by_trace, kind_of=_kind_of)


def _dumped_system(folder: Path) -> str:
    """The system message every first request dumped in ``folder`` carries."""
    systems = {json.loads(p.read_text(encoding="utf-8"))["messages"][0]["content"]
               for p in folder.glob("*.request.json")}
    systems = {s for s in systems if not s.startswith("You attribute")}  # second-pass requests have their own
    if len(systems) != 1:
        sys.exit(f"bench_judge_replay: --system-from {folder}: expected one system message, found {len(systems)}")
    return systems.pop()


def dump(args: argparse.Namespace, store: Store, chosen: dict[str, list[str]]) -> None:
    folder = Path(args.dump)
    ids = [t for group in chosen.values() for t in group]
    fmt = ResponseFormat.JSON_SCHEMA
    variant = VARIANTS[args.variant]
    judge = make_judge(args.variant, "http://127.0.0.1:9/v1")
    response_format = response_format_param(fmt, judge._schema)
    records = {}
    # a by-trace variant's first requests were dumped by another commit: with --system-from, more of them are
    # written with that dump's system message and today's rendering of the trace (the same, if render.py is)
    system = _dumped_system(Path(args.system_from)) if args.system_from else None
    if not variant.by_trace or system is not None:
        for trace in store.iter_traces(ids):
            for window, messages in enumerate(judge.first_requests(trace, fmt)):
                if system is not None:
                    messages = [{"role": "system", "content": system}, *messages[1:]]
                record = request_record(messages, response_format, trace_key(trace.content_hash(), window))
                records[record["hash"]] = record
    server = answer_server(args, store, ids, folder)
    answers = server.answers
    if answers:  # what the pipeline asks next once these are known (second passes, corrective retries)
        with server as url:
            _replay(store, make_judge(args.variant, url), ids, args.concurrency)
        first_system = judge.first_requests(store.get_trace(ids[0]), fmt)[0][0]["content"] if ids else None
        for key, request in server.unanswered.items():
            if variant.by_trace and request["messages"][0]["content"] == first_system:
                continue  # today's first pass of a run with no answer yet: not this variant's request
            records.setdefault(key, request_record(request["messages"], request.get("response_format"),
                                                   server.keys.get(key)))
    # a request another folder holds (a one-pass variant's first requests) is answered there, never twice; nor is
    # a trace window and pass already dumped under another text (before a change of the prompt or the rendering)
    elsewhere = {p.name.split(".")[0] for f in args.also_answers for p in Path(f).glob("*.request.json")}
    placed = {key for f in [folder, *args.also_answers] for key in dumped_trace_keys(Path(f))}
    mine = {p.name.split(".")[0] for p in folder.glob("*.request.json")}
    records = {key: record for key, record in records.items()
               if key not in elsewhere and (key in mine or record.get("trace_key") not in placed)}
    if not records and variant.by_trace:
        sys.exit(f"bench_judge_replay: variant {args.variant} asks nothing new before its first-pass answers are "
                 "found (give the folder holding them with --also-answers)")
    hashes = write_requests(folder, records.values())
    meta = {"variant": args.variant, "about": variant.about, "split": args.split, "requests": len(hashes),
            "commit": git_commit(ROOT), "two_pass": bool(variant.options.get("localize")), "traces": len(ids)}
    listed = sorted(set(hashes) | {p.name.split(".")[0] for p in folder.glob("*.request.json")})
    write_index(folder, listed, answered=set(answers), meta=meta)
    per_source = ", ".join(f"{s} {len(t)}" for s, t in chosen.items())
    print(f"dumped {len(hashes)} requests for {len(ids)} traces ({per_source}) to {folder}; "
          f"{len(set(listed) & set(answers))} of the {len(listed)} listed already answered")


def measure(args: argparse.Namespace, store: Store, chosen: dict[str, list[str]]) -> dict:
    ids = [t for group in chosen.values() for t in group]
    server = answer_server(args, store, ids, Path(args.answers))
    with server as url:
        summary = _replay(store, make_judge(args.variant, url), ids, args.concurrency)
    anns = {a.trace_id: a for a in store.get_annotations(SET)}
    out = {"variant": args.variant, "split": args.split, "answers": len(server.answers),
           "matched_by_trace": len(server.served_by_trace), "served": len(server.served),
           "unanswered_requests": len(server.unanswered), "traces": summary.traces, "annotated": summary.annotated,
           "errors": summary.errors, "sources": {}}
    for source, group in chosen.items():
        errors = Counter("unanswered" if NO_ANSWER in (anns[t].error or "") else "other"
                         for t in group if t in anns and anns[t].status.value == "error")
        counts = {"traces": len(group), "annotated": sum(1 for t in group if t in anns and anns[t].status.value == "ok"),
                  "errors": sum(errors.values()), "unanswered": errors["unanswered"],
                  "evidence": sum(len(m.evidence) for t in group if t in anns and anns[t].verdict
                                  for m in anns[t].verdict.modes.values()),
                  "unverified_evidence": sum(int(anns[t].verdict.metadata.get("unverified_evidence", 0))
                                             for t in group if t in anns and anns[t].verdict)}
        fig = figures_for(store, SET, KIND.get(source, "outcome"), set(group), source)
        out["sources"][source] = {"counts": counts, "figures": fig}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dump", metavar="DIR", help="write the requests to answer into DIR")
    mode.add_argument("--answers", metavar="DIR", help="replay the answers in DIR and print the figures")
    ap.add_argument("--variant", default="modes", choices=list(VARIANTS),
                    help="; ".join(f"{name}: {v.about}" for name, v in VARIANTS.items()))
    ap.add_argument("--also-answers", action="append", default=[], metavar="DIR",
                    help="more folders of answers (e.g. a one-pass variant's, for a two-pass variant's first pass)")
    ap.add_argument("--split", default="validate", choices=["build", "validate", "all"])
    ap.add_argument("--sample", default="default",
                    help="per-stratum sample sizes: default (tau-bench 8+8, Who&When 12+12, SWE-bench 6+6, "
                         "MAST-Data all), all, or SOURCE=N[,SOURCE=N] over the default")
    ap.add_argument("--limit-per-source", type=int, default=None, metavar="N",
                    help="at most N traces per stratum of every source (overrides --sample)")
    ap.add_argument("--sources", default=None, metavar="S[,S]",
                    help="only these sources (tau-bench, tau2, swe-bench, who&when, mast-data)")
    ap.add_argument("--system-from", default=None, metavar="DIR",
                    help="with a baseline variant's --dump: write first requests with the system message of the "
                         "requests dumped in DIR (e.g. more sources for the baseline)")
    ap.add_argument("--shared", default=None, help="the shared data folder (default ../shared or MASTLENS_SHARED)")
    ap.add_argument("--match", default="trace", choices=["exact", "trace"],
                    help="exact: an answer serves only the request it was written for; trace: a first request whose "
                         "text changed since the dump (another commit's prompt or rendering) gets the answer given "
                         "for the same trace window and pass, said in the output (default; always so for the "
                         "baseline variants)")
    ap.add_argument("--settle", type=float, default=30.0, metavar="S",
                    help="with --dump: read only answer files unchanged for S seconds (not one being written)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    try:
        sample = _sample_option(args.sample)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        ap.error(str(exc))
    if args.limit_per_source is not None:
        sample = {s: args.limit_per_source for s in DEFAULT_SAMPLE}
    shared = Path(args.shared or os.environ.get("MASTLENS_SHARED") or ROOT.parent / "shared")
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "replay.db") as store:
        _ingest(shared, store)
        chosen = select(store, args.split, sample)
        if args.sources:
            wanted = {x.strip() for x in args.sources.split(",")}
            chosen = {source: ids for source, ids in chosen.items() if source in wanted}
        if args.dump:
            dump(args, store, chosen)
            return
        out = measure(args, store, chosen)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"variant {out['variant']} ({VARIANTS[out['variant']].about}), {out['split']} split: {out['annotated']}/"
          f"{out['traces']} traces annotated, {out['errors']} errors; {out['served']} of {out['answers']} answers "
          f"served, {out['unanswered_requests']} requests unanswered"
          + (f"; {out['matched_by_trace']} requests answered by trace (their text differs from the dump's)"
             if out["matched_by_trace"] else ""))
    for source, entry in out["sources"].items():
        print_figures(source, entry["figures"], entry["counts"])
    print(f"\nreproduce: python bench/bench_judge_replay.py --answers {args.answers} --variant {args.variant} "
          f"--split {args.split} --sample {args.sample} --match {args.match}"
          + "".join(f" --also-answers {f}" for f in args.also_answers)
          + (f" --sources {args.sources}" if args.sources else "")
          + (f" --limit-per-source {args.limit_per_source}" if args.limit_per_source is not None else ""))


if __name__ == "__main__":
    main()
