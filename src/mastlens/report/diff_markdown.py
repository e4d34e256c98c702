"""The diff as a PR comment: outcome changes, the three biggest mode changes with CIs, verdict changes, flips."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mastlens.report.context import as_dict
from mastlens.report.templating import pval
from mastlens.report.markdown import md_text
from mastlens.taxonomy import load_taxonomy

MAX_FLIPS = 10
KIND_TEXT = {"no_longer_fatal": "no longer fatal", "newly_fatal": "newly fatal", "appeared": "appeared"}


def _with_ci(value: Any, interval: Any, show: Callable[[float], str], bound: Callable[[float], str]) -> str:
    if value is None:
        return "–"
    return show(value) + (f" [{bound(interval[0])}, {bound(interval[1])}]" if interval else "")


def pct_ci(value: Any, interval: Any) -> str:
    """``40.0% [28.6%, 52.6%]``; a dash when there is no figure."""
    return _with_ci(value, interval, lambda x: f"{100 * x:.1f}%", lambda x: f"{100 * x:.1f}%")


def pp_ci(value: Any, interval: Any) -> str:
    """A difference of proportions in percentage points with its interval: ``-30.0 pp [-42.8, -16.2]``."""
    return _with_ci(value, interval, lambda x: f"{100 * x:+.1f} pp", lambda x: f"{100 * x:+.1f}")


def num_ci(value: Any, interval: Any, signed: bool = False) -> str:
    return _with_ci(value, interval, lambda x: f"{x:+.2f}" if signed else f"{x:.2f}", lambda x: f"{x:.2f}")


def comparison_line(d: dict[str, Any]) -> str:
    """How the runs were compared, in one sentence."""
    if d.get("paired"):
        p = d.get("pairing") or {}
        return (f"Paired on **{md_text(p.get('key', ''))}**: {p.get('n_pairs', 0)} pairs, "
                f"{len(p.get('unmatched_base') or [])} + {len(p.get('unmatched_new') or [])} traces unmatched; "
                f"test: {d['test']}, Holm across modes, alpha {d['alpha']:g}.")
    return f"Unpaired (no --match): test {d['test']}, Holm across modes, alpha {d['alpha']:g}."


def render_diff_markdown(diff: Any, *, top: int = 3, heading: str = "##") -> str:
    """The Markdown summary of a ``DiffResult`` (or its ``model_dump()``); trace text is made inert."""
    d = as_dict(diff) or {}
    names = {m.id: m.name for m in load_taxonomy().modes}
    b, n = d["base_summary"], d["new_summary"]
    base, new = md_text(d["base"]), md_text(d["new"])
    lines = [f"{heading} mastlens diff: {md_text(d['by'])} {base} → {new}", "", comparison_line(d)]
    for applied in d.get("calibration") or []:
        from mastlens.analysis.results import CalibrationApplied

        lines += ["", f"> **{md_text(CalibrationApplied.model_validate(applied).describe(), 600)}**"]
    if d.get("judge_change"):
        lines += ["", f"> **Judge configuration changed** ({md_text(d['judge_change'], 300)}): differences may "
                  "come from the judge, not the agent (--allow-judge-change)."]
    o = d.get("outcome") or {}
    lines += ["", f"| | {base} | {new} | change (95% CI) |", "|---|---:|---:|---:|",
              f"| traces | {b['stats']['n']} | {n['stats']['n']} | |",
              f"| success rate | {pct_ci(b['stats'].get('success_rate'), b.get('success_rate_ci'))} "
              f"| {pct_ci(n['stats'].get('success_rate'), n.get('success_rate_ci'))} "
              f"| {pp_ci(o.get('success_diff'), o.get('success_diff_ci'))}, p {pval(o.get('success_p'))} |",
              f"| mean score | {num_ci(b['stats'].get('mean_score'), b.get('mean_score_ci'))} "
              f"| {num_ci(n['stats'].get('mean_score'), n.get('mean_score_ci'))} "
              f"| {num_ci(o.get('score_diff'), o.get('score_diff_ci'), signed=True)}, p {pval(o.get('score_p'))} |",
              f"| modes per failed trace | {num_ci(b['stats'].get('modes_per_failed_trace'), b.get('modes_per_failed_trace_ci'))} "
              f"| {num_ci(n['stats'].get('modes_per_failed_trace'), n.get('modes_per_failed_trace_ci'))} | |"]
    modes = [m for m in d.get("modes") or [] if m.get("diff") is not None]
    modes.sort(key=lambda m: (not m["significant"], -abs(m["diff"]), m["id"]))
    significant = [m for m in modes if m["significant"]]
    lines += ["", f"{heading}# Biggest changes", ""]
    if not significant:
        lines += [f"No significant change in any mode at alpha {d['alpha']:g} (Holm). The largest moves:", ""]
    if modes:
        lines += [f"| mode | {base} | {new} | change (95% CI) | p | p (Holm) |", "|---|---:|---:|---:|---:|---:|"]
        for m in modes[:top]:
            mark = " **(significant)**" if m["significant"] else ""
            lines.append(f"| {m['id']} {md_text(names.get(m['id'], ''))}{mark} "
                         f"| {pct_ci(m['prevalence_base'], m['prevalence_base_ci'])} "
                         f"| {pct_ci(m['prevalence_new'], m['prevalence_new_ci'])} | {pp_ci(m['diff'], m['diff_ci'])} "
                         f"| {pval(m['p_value'])} | {pval(m['p_holm'])} |")
    else:
        lines.append("No mode was assessed on both sides.")
    lines += ["", f"{heading}# Verdict changes", ""]
    changes = d.get("verdict_changes") or []
    for v in changes:
        examples = ", ".join(_example(e) for e in v.get("examples") or []) or "no example"
        lines.append(f"- **{v['mode']} {md_text(names.get(v['mode'], ''))}** {KIND_TEXT[v['kind']]}: "
                     f"{md_text(v['verdict_base'])} in {base} → {md_text(v['verdict_new'])} in {new}; prevalence "
                     f"{pct_ci(v['prevalence_base'], v['prevalence_base_ci'])} → "
                     f"{pct_ci(v['prevalence_new'], v['prevalence_new_ci'])}. Examples: {examples}")
    if not changes:
        lines.append("No mode changed verdict (fatal / benign) and none appeared.")
    if d.get("paired"):
        lines += _flip_lines(d, heading)
    if d.get("notes"):
        lines += ["", *(f"- {md_text(note, 300)}" for note in d["notes"])]
    return "\n".join(lines) + "\n"


def _example(e: dict[str, Any]) -> str:
    outcome = {True: "passed", False: "failed", None: "outcome unknown"}[e.get("success")]
    text = f"{md_text(e['trace_id'], 120)} ({e['side']}, {outcome}"
    for ref in (e.get("evidence") or [])[:1]:
        step = f"step {ref['step']}: " if ref.get("step") is not None else ""
        text += f"; {step}“{md_text(ref.get('quote', ''), 80)}”"
    return text + ")"


def _flip_lines(d: dict[str, Any], heading: str) -> list[str]:
    flips = d.get("flips") or []
    fixed = [f for f in flips if f["direction"] == "fixed"]
    broke = [f for f in flips if f["direction"] == "broke"]
    lines = ["", f"{heading}# Flips ({md_text((d.get('pairing') or {}).get('key', ''))})", "",
             f"{len(fixed)} fail → pass, {len(broke)} pass → fail."]
    for title, group in (("fail → pass", fixed), ("pass → fail", broke)):
        if not group:
            continue
        lines += ["", f"**{title}**", ""]
        for f in group[:MAX_FLIPS]:
            gained = " ".join(f"+{m}" for m in f["modes_appeared"])
            lost = " ".join(f"−{m}" for m in f["modes_disappeared"])
            lines.append(f"- {md_text(f['match'], 120)}: {' '.join(x for x in (gained, lost) if x) or 'no mode changed'}")
        if len(group) > MAX_FLIPS:
            lines.append(f"- … and {len(group) - MAX_FLIPS} more (`mastlens diff --json`)")
    return lines
