"""Rich tables for ``mastlens stats`` and ``mastlens agree``: rendering only, every number comes from the
typed results in ``mastlens.analysis.results``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from mastlens.cli.common import console

if TYPE_CHECKING:
    from mastlens.analysis.results import AgreementResult, GroupStats, Localization, ModeStat, StatsResult

TOP_PAIRS = 10
TOP_RECOMMENDATIONS = 3
VERDICT_STYLE = {"fatal": "bold red", "benign": "green", "neutral": "", "insufficient": "dim"}


def pct(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def interval(ci: tuple[float, float] | None, *, as_pct: bool = True) -> str:
    if ci is None:
        return ""
    low, high = ci
    return f"[{100 * low:.0f}–{100 * high:.0f}]" if as_pct else f"[{low:.2f}, {high:.2f}]"


def number(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def p_text(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _table(title: str, columns: list[str], right_from: int = 1) -> Table:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        # the first column names the row (a mode id, a group): never squeezed or wrapped
        table.add_column(col, justify="right" if i >= right_from else "left", no_wrap=i == 0,
                         min_width=len(col) if i == 0 else None)
    return table


def _summary(result: StatsResult) -> Table:
    cats = [c.id for c in result.groups[0].categories] if result.groups else []
    table = _table(f"Groups by {escape(result.group_by)} (set {escape(result.set)}, success: "
                   f"{escape(result.success_rule)})",
                   [result.group_by, "traces", "failed", "success rate", "mean score", "modes/trace",
                    "modes/failed trace", "histogram (0,1,2,..)", *cats])
    for g in result.groups:
        hist = ",".join(str(g.modes_histogram[k]) for k in sorted(g.modes_histogram, key=int))
        rate = pct(g.success_rate, 1) + (f" of {g.n - g.n_unknown_outcome}" if g.n_unknown_outcome else "")
        table.add_row(escape(g.name), str(g.n), str(g.n_failed), rate, number(g.mean_score, ".3f"),
                      f"{number(g.modes_per_trace)} ± {number(g.modes_per_trace_sd)}",
                      f"{number(g.modes_per_failed_trace)} ± {number(g.modes_per_failed_trace_sd)}", hist,
                      *(pct(c.prevalence) for c in g.categories))
    return table


def too_few(m: ModeStat) -> str:
    return f"too few assessed ({m.n_assessed})"


def _corrected(m: ModeStat) -> str:
    if m.prevalence_corrected is None:
        return "-" if m.too_few_assessed or not m.prevalence_corrected_note else "n/a"
    return f"{pct(m.prevalence_corrected)} {interval(m.prevalence_corrected_ci)}"


def _modes(group: GroupStats, reference: str | None = None) -> Table:
    extra = ["corrected (se/sp)"] if reference else []
    table = _table(f"Modes in {escape(group.name)}: prevalence (Wilson 95% CI), failed vs successful",
                   ["mode", "assessed", "overall", *extra, "in successes", "in failed", "delta pp", "lift",
                    "odds ratio", "p (Fisher)", "p (Holm)", "verdict"], right_from=1)
    for m in group.modes:
        assessed = str(m.n_assessed) + (f" ({m.n_not_assessed} n/a)" if m.n_not_assessed else "")
        style = VERDICT_STYLE.get(m.verdict, "")
        if m.too_few_assessed:
            table.add_row(m.id, assessed, too_few(m), *(["-"] if reference else []), *["-"] * 7,
                          f"[{style}]{m.verdict}[/]" if style else m.verdict)
            continue
        corrected = []
        if reference:
            se_sp = (f" ({pct(m.sensitivity)}/{pct(m.specificity)})" if m.sensitivity is not None
                     and m.specificity is not None else "")
            corrected = [_corrected(m) + se_sp]
        table.add_row(
            m.id, assessed, f"{pct(m.prevalence)} {interval(m.prevalence_ci)}", *corrected,
            f"{pct(m.prevalence_success)} {interval(m.prevalence_success_ci)}",
            f"{pct(m.prevalence_failed)} {interval(m.prevalence_failed_ci)}",
            number(m.delta_pp, "+.0f"), number(m.lift),
            f"{number(m.odds_ratio)} {interval(m.odds_ratio_ci, as_pct=False)}",
            p_text(m.p_value), p_text(m.p_holm), f"[{style}]{m.verdict}[/]" if style else m.verdict)
    return table


def _separation(result: StatsResult) -> Table | None:
    if not result.separation:
        return None
    table = _table("Do the failure vectors tell failed from successful runs? (AUROC of the number of present modes)",
                   ["group", "runs", "failed", "successful", "AUROC (95% CI)", "flagged failed", "flagged successful",
                    "note"], right_from=1)
    for s in result.separation:
        if s.n == 0 and s.group != "all":
            continue  # a group without known outcomes has nothing to separate
        auroc = "-" if s.auroc is None else f"{s.auroc:.2f} {interval(s.auroc_ci, as_pct=False)}"
        table.add_row(escape(s.group), str(s.n), str(s.n_failed), str(s.n_success), auroc, pct(s.flagged_failed),
                      pct(s.flagged_success), escape(s.note or ""))
    return table


def _cascades(result: StatsResult) -> list[Table]:
    tables = []
    pairs = sorted(result.cooccurrence, key=lambda c: (-c.n_both, -(c.phi or 0), c.group, c.a, c.b))
    if pairs:
        table = _table("Top co-occurrences (P(B|A) over traces assessing both)", ["group", "A", "B", "both", "phi",
                                                                                  "P(B|A)"], right_from=3)
        for c in pairs[:TOP_PAIRS]:
            table.add_row(escape(c.group), c.a, c.b, str(c.n_both), number(c.phi), pct(c.p_b_given_a))
        tables.append(table)
    order = sorted(result.precedence, key=lambda p: (-p.n_both_localized, -p.share_first, p.group, p.first))
    if order:
        table = _table("Which mode shows first (traces where both are localized)",
                       ["group", "first", "then", "both localized", "first share"], right_from=3)
        for p in order[:TOP_PAIRS]:
            table.add_row(escape(p.group), p.first, p.second, str(p.n_both_localized), pct(p.share_first))
        tables.append(table)
    if result.first_onsets:
        table = _table("Modes that open failed traces", ["group", "mode", "first in", "share"], right_from=2)
        for f in result.first_onsets[:TOP_PAIRS * 2]:
            table.add_row(escape(f.group), f.mode, str(f.n_first), pct(f.share))
        tables.append(table)
    return tables


def _comparison(result: StatsResult) -> Table | None:
    if not result.comparison:
        return None
    first = result.comparison[0]
    table = _table(f"{escape(first.a)} minus {escape(first.b)}: prevalence difference (Newcombe 95% CI)",
                   ["mode", "difference", "95% CI", "p (Fisher)", "p (Holm)"])
    for c in result.comparison:
        low_high = "" if c.diff_ci is None else f"[{100 * c.diff_ci[0]:+.0f}, {100 * c.diff_ci[1]:+.0f}] pp"
        table.add_row(c.mode, "-" if c.diff is None else f"{100 * c.diff:+.1f} pp", low_high, p_text(c.p_value),
                      p_text(c.p_holm))
    return table


def _regression(result: StatsResult) -> Table | None:
    reg = result.regression
    if not reg.terms:
        return None
    table = _table(f"Logistic regression of success on modes, with group fixed effects (n = {reg.n})",
                   ["term", "odds ratio of success", "95% CI", "p"])
    for t in reg.terms:
        table.add_row(escape(t.term), number(t.odds_ratio), interval(t.ci, as_pct=False), p_text(t.p_value))
    return table


def _recommendations(result: StatsResult) -> Table | None:
    if not result.recommendations:
        return None
    table = _table("What to fix first (score = prevalence in failed traces x fatality)",
                   ["group", "intervention", "modes", "score", "example failed traces"], right_from=3)
    shown: dict[str, int] = {}
    for r in result.recommendations:
        if shown.get(r.group, 0) >= TOP_RECOMMENDATIONS:
            continue
        shown[r.group] = shown.get(r.group, 0) + 1
        table.add_row(escape(r.group), escape(r.title or r.intervention), " ".join(r.modes), f"{r.score:.2f}",
                      escape(", ".join(r.example_traces)))
    return table


def print_stats(result: StatsResult, mode_names: dict[str, str]) -> None:
    """Every table of ``mastlens stats``, in reading order, then a legend of the mode ids shown."""
    console.print(_summary(result))
    for group in result.groups:
        console.print(_modes(group, result.reference))
    separation = _separation(result)
    if separation is not None:
        console.print(separation)
    if result.reference:
        notes = sorted({m.prevalence_corrected_note for g in result.groups for m in g.modes
                        if m.prevalence_corrected_note and not m.too_few_assessed})
        console.print(f"corrected = Rogan-Gladen prevalence for the judge's sensitivity/specificity measured against "
                      f"{escape(result.reference)} (bootstrap 95% CI); n/a: " + escape("; ".join(notes) or "-"),
                      style="dim", soft_wrap=True)
    for table in [*_cascades(result), _comparison(result), _regression(result), _recommendations(result)]:
        if table is not None:
            console.print(table)
    if result.regression.note:
        console.print(f"[yellow]regression:[/] {escape(result.regression.note)}", soft_wrap=True)
    console.print("verdicts: " + escape(result.verdict_rules), style="dim", soft_wrap=True)
    console.print("modes: " + "; ".join(f"{m} {name}" for m, name in mode_names.items()), style="dim",
                  soft_wrap=True)
    ex = result.excluded
    if ex.stale or ex.errors or ex.not_in_store:
        console.print(f"left out: {ex.stale} stale annotations (trace changed since), {ex.errors} judge errors, "
                      f"{ex.not_in_store} annotations of traces not in the store", soft_wrap=True)


def print_agreement(result: AgreementResult) -> None:
    """Per-mode agreement of B with reference A, then the micro and macro summaries."""
    table = _table(f"Agreement of {escape(result.b)} with reference {escape(result.a)} ({result.n_traces} traces in "
                   "both)", ["mode", "n", "prevalence A / B", "tp/fp/fn/tn", "accuracy", "precision", "recall", "F1",
                             "kappa (95% CI)", "PABAK"])
    for s in [*result.modes, result.micro]:
        kappa = f"{number(s.kappa)} {interval(s.kappa_ci, as_pct=False)}"
        table.add_row(s.id, str(s.n), f"{pct(s.prevalence_a)} / {pct(s.prevalence_b)}",
                      f"{s.tp}/{s.fp}/{s.fn}/{s.tn}", pct(s.accuracy), pct(s.precision), pct(s.recall), number(s.f1),
                      kappa, number(s.pabak), end_section=s is result.modes[-1] if result.modes else False)
    console.print(table)
    console.print(f"A = {escape(result.a)} (reference), B = {escape(result.b)}")
    console.print(f"macro over modes: F1 {number(result.macro.f1)}, kappa {number(result.macro.kappa)}")
    if result.localization is not None:
        console.print(_localization(result.localization, result))


def _localization(loc: Localization, result: AgreementResult) -> Table:
    table = _table(f"Where the runs went wrong: {escape(result.b)} against {escape(result.a)} on the {loc.n} runs A "
                   "labels failed (bootstrap 95% CI)", ["figure", "n", "value"], right_from=1)
    for label, n, value, ci in [("decisive step exact", loc.n_step, loc.step_exact, loc.step_exact_ci),
                                ("decisive step within ±1", loc.n_step, loc.step_within_1, loc.step_within_1_ci),
                                ("decisive step within ±3", loc.n_step, loc.step_within_3, loc.step_within_3_ci),
                                ("decisive agent", loc.n_agent, loc.agent, loc.agent_ci),
                                ("B names no step", loc.n, loc.no_step, None)]:
        table.add_row(label, str(n), f"{pct(value, 1)} {interval(ci)}")
    for m in loc.modes:
        table.add_row(f"{m.id} first step exact / ±1 / ±3", str(m.n),
                      f"{pct(m.exact)} / {pct(m.within_1)} / {pct(m.within_3)}")
    return table
