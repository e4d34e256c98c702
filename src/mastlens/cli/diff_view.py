"""Rich tables for ``mastlens diff`` (rendering a ``DiffResult``; nothing is computed here)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from mastlens.cli.common import console, note
from mastlens.report.diff_markdown import KIND_TEXT, comparison_line, num_ci, pct_ci, pp_ci
from mastlens.report.html import pval

MAX_FLIPS = 20


def print_diff(d, mode_names: dict[str, str]) -> None:  # noqa: ANN001 - a DiffResult
    base, new = escape(d.base), escape(d.new)
    console.print(f"[bold]diff[/] {escape(d.by)} {base} -> {new}", soft_wrap=True)
    console.print(escape(comparison_line(d.model_dump(mode="json")).replace("**", "")), soft_wrap=True)
    if d.judge_change:
        console.print(f"[bold red]judge configuration changed:[/] {escape(d.judge_change)}", soft_wrap=True)
    b, n, o = d.base_summary, d.new_summary, d.outcome
    table = Table(title="Outcomes", title_justify="left")
    for col in ("", d.base, d.new, "change [95% CI]", "p"):
        table.add_column(escape(col), justify="left" if col == "" else "right")
    table.add_row("traces", str(b.stats.n), str(n.stats.n), "", "")
    table.add_row("success rate", pct_ci(b.stats.success_rate, b.success_rate_ci),
                  pct_ci(n.stats.success_rate, n.success_rate_ci), pp_ci(o.success_diff, o.success_diff_ci),
                  pval(o.success_p))
    table.add_row("mean score", num_ci(b.stats.mean_score, b.mean_score_ci), num_ci(n.stats.mean_score, n.mean_score_ci),
                  num_ci(o.score_diff, o.score_diff_ci, signed=True), pval(o.score_p))
    table.add_row("modes per failed trace", num_ci(b.stats.modes_per_failed_trace, b.modes_per_failed_trace_ci),
                  num_ci(n.stats.modes_per_failed_trace, n.modes_per_failed_trace_ci), "", "")
    console.print(table)

    table = Table(title="Failure modes (change = NEW - BASE; * significant after Holm)", title_justify="left")
    for col in ("mode", d.base, d.new, "change [95% CI]", *(["gained/lost"] if d.paired else []), "p", "Holm",
                "verdict"):
        table.add_column(escape(col), justify="left" if col in ("mode", "verdict") else "right",
                         no_wrap=col in ("mode", "p", "Holm", "gained/lost"))
    for m in d.modes:
        verdict = m.verdict_base if m.verdict_new == m.verdict_base else f"{m.verdict_base} -> {m.verdict_new}"
        row = [m.id, pct_ci(m.prevalence_base, m.prevalence_base_ci),
               pct_ci(m.prevalence_new, m.prevalence_new_ci), pp_ci(m.diff, m.diff_ci),
               *([f"{m.gained}/{m.lost}"] if d.paired else []), pval(m.p_value),
               pval(m.p_holm) + (" *" if m.significant else ""), verdict]
        table.add_row(*row, style="bold" if m.significant else None)
    console.print(table)
    if not d.significant_modes():
        console.print(f"no significant change in any mode at alpha {d.alpha:g} (Holm across modes)")

    if d.verdict_changes:
        console.print("[bold]Verdict changes[/]")
    for v in d.verdict_changes:
        examples = ", ".join(f"{escape(e.trace_id)}" + (f" (step {e.evidence[0].step})" if e.evidence and
                             e.evidence[0].step is not None else "") for e in v.examples) or "no example"
        console.print(f"  {v.mode} {escape(mode_names.get(v.mode, ''))} {KIND_TEXT[v.kind]}: "
                      f"{v.verdict_base} -> {v.verdict_new}; {pct_ci(v.prevalence_base, v.prevalence_base_ci)} -> "
                      f"{pct_ci(v.prevalence_new, v.prevalence_new_ci)}; examples: {examples}", soft_wrap=True)
    if d.paired:
        _print_flips(d)
    for text in d.notes:
        note(f"[yellow]note:[/] {escape(text)}")


def _print_flips(d) -> None:  # noqa: ANN001
    fixed = [f for f in d.flips if f.direction == "fixed"]
    broke = [f for f in d.flips if f.direction == "broke"]
    console.print(f"[bold]Flips[/] by {escape(d.pairing.key)}: {len(fixed)} fail -> pass, {len(broke)} pass -> fail")
    if not d.flips:
        return
    table = Table(show_header=True, title_justify="left")
    for col in ("flip", d.pairing.key, "appeared", "disappeared"):
        table.add_column(escape(col))
    for f in (fixed + broke)[:MAX_FLIPS]:
        table.add_row("fail -> pass" if f.direction == "fixed" else "pass -> fail", escape(f.match),
                      " ".join(f.modes_appeared), " ".join(f.modes_disappeared))
    console.print(table)
    if len(d.flips) > MAX_FLIPS:
        console.print(f"... {len(d.flips) - MAX_FLIPS} more flips in --json")
