"""Rich tables for ``mastlens stats`` and ``mastlens agree``: rendering only, every number comes from the
typed results in ``mastlens.analysis.results``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from mastlens.cli.common import console
from mastlens.cli.tables import NAME_WIDTH, fitted_table, middle, print_table

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


def _table(title: str, columns: list[str], right_from: int = 1, wrap: tuple[str, ...] = ()) -> Table:
    return fitted_table(title, columns, right_from=right_from, wrap=wrap)


def _rows(table: Table, columns: list[str], rows: list[dict[str, str]], **row_options: object) -> Table:
    for row in rows:
        table.add_row(*(row[c] for c in columns), **row_options)
    return table


def _name(name: str, wide: bool) -> str:
    return escape(name if wide else middle(name, NAME_WIDTH))


def _summary(result: StatsResult, wide: bool = False) -> Table:
    cats = [c.id for c in result.groups[0].categories] if result.groups else []
    group = result.group_by if wide else middle(result.group_by, NAME_WIDTH)
    columns = [group, "traces", "failed", "success rate", "mean score", "modes/trace", "modes/failed trace",
               "histogram (0,1,2,..)", *cats] if wide else [group, "traces", "failed", "success rate",
                                                              "modes/failed trace"]
    table = _table(f"Groups by {escape(result.group_by)} (set {escape(result.set)}, success: "
                   f"{escape(result.success_rule)})", columns)
    rows = []
    for g in result.groups:
        hist = ",".join(str(g.modes_histogram[k]) for k in sorted(g.modes_histogram, key=int))
        rate = pct(g.success_rate, 1) + (f" of {g.n - g.n_unknown_outcome}" if g.n_unknown_outcome else "")
        rows.append({group: _name(g.name, wide), "traces": str(g.n), "failed": str(g.n_failed), "success rate": rate,
                     "mean score": number(g.mean_score, ".3f"),
                     "modes/trace": f"{number(g.modes_per_trace)} ± {number(g.modes_per_trace_sd)}",
                     "modes/failed trace": f"{number(g.modes_per_failed_trace)} ± {number(g.modes_per_failed_trace_sd)}",
                     "histogram (0,1,2,..)": hist, **{c.id: pct(c.prevalence) for c in g.categories}})
    return _rows(table, columns, rows)


def too_few(m: ModeStat) -> str:
    return f"too few assessed ({m.n_assessed})"


def _corrected(m: ModeStat) -> str:
    if m.prevalence_corrected is None:
        return "-" if m.too_few_assessed or not m.prevalence_corrected_note else "n/a"
    return f"{pct(m.prevalence_corrected)} {interval(m.prevalence_corrected_ci)}"


def _modes(group: GroupStats, reference: str | None = None, wide: bool = False) -> Table:
    extra = ["corrected (se/sp)"] if reference else []
    test = "p (CMH)" if group.stratified else "p (Fisher)"
    columns = ["mode", "assessed", "overall", *extra, "in successes", "in failed", "delta pp", "lift", "odds ratio",
               test, "p (Holm)", "verdict"] if wide else \
        ["mode", "assessed", *extra, "in successes", "in failed", "delta pp", "verdict"]
    title = f"Modes in {escape(group.name)}: prevalence (Wilson 95% CI), failed vs successful"
    if group.stratified:
        title += (f"; delta, lift, odds ratio, test and verdict within its {len(group.sources)} sources "
                  "(Mantel-Haenszel, Cochran-Mantel-Haenszel)")
    table = _table(title, columns)
    rows = []
    for m in group.modes:
        assessed = (str(m.n_assessed) + (f" ({m.n_not_assessed} n/a)" if m.n_not_assessed else "")) if wide else \
            f"{m.n_assessed}/{m.n_assessed + m.n_not_assessed}"
        style = VERDICT_STYLE.get(m.verdict, "")
        row = {"mode": m.id, "assessed": assessed, "verdict": f"[{style}]{m.verdict}[/]" if style else m.verdict}
        if m.too_few_assessed:
            first = "overall" if "overall" in columns else "in successes"
            rows.append({c: row.get(c, "-") for c in columns} | {first: too_few(m)})
            continue
        if reference:
            se_sp = (f" ({pct(m.sensitivity)}/{pct(m.specificity)})" if m.sensitivity is not None
                     and m.specificity is not None else "")
            row["corrected (se/sp)"] = _corrected(m) + se_sp
        rows.append(row | {
            "overall": f"{pct(m.prevalence)} {interval(m.prevalence_ci)}",
            "in successes": f"{pct(m.prevalence_success)} {interval(m.prevalence_success_ci)}",
            "in failed": f"{pct(m.prevalence_failed)} {interval(m.prevalence_failed_ci)}",
            "delta pp": number(m.delta_pp, "+.0f"), "lift": number(m.lift),
            "odds ratio": f"{number(m.odds_ratio)} {interval(m.odds_ratio_ci, as_pct=False)}",
            test: p_text(m.p_value), "p (Holm)": p_text(m.p_holm)})
    return _rows(table, columns, rows)


def _sources_line(group: GroupStats) -> str:
    """Which sources a stratified group mixes, and the pooled effects the verdicts no longer rest on."""
    parts = [f"{escape(s.source)} {s.n} runs, {pct(s.n_success / s.n if s.n else None)} successful"
             for s in group.sources]
    moved = [f"{m.id} {number(m.delta_pp_pooled, '+.0f')} -> {number(m.delta_pp, '+.0f')}" for m in group.modes
             if m.delta_pp_pooled is not None and m.delta_pp is not None and abs(m.delta_pp_pooled - m.delta_pp) >= 5]
    text = (f"{escape(group.name)} mixes sources whose outcomes differ ({'; '.join(parts)}): the modes are compared "
            "within each source")
    if moved:
        text += "; pooled vs within-source delta pp: " + ", ".join(moved)
    return text


def _separation(result: StatsResult) -> Table | None:
    if not result.separation:
        return None
    table = _table("Do the failure vectors tell failed from successful runs? (AUROC of the number of present modes)",
                   ["group", "runs", "failed", "successful", "AUROC (95% CI)", "flagged failed", "flagged successful",
                    "note"], right_from=1, wrap=("note",))
    for s in result.separation:
        if s.n == 0 and s.group != "all":
            continue  # a group without known outcomes has nothing to separate
        auroc = "-" if s.auroc is None else f"{s.auroc:.2f} {interval(s.auroc_ci, as_pct=False)}"
        table.add_row(escape(s.group), str(s.n), str(s.n_failed), str(s.n_success), auroc, pct(s.flagged_failed),
                      pct(s.flagged_success), escape(s.note or ""))
    return table


def _outcome_calls(result: StatsResult) -> Table | None:
    if not result.outcome_calls:
        return None
    table = _table("Does the judge's own outcome call (task completed) match the real outcome?",
                   ["group", "known outcome", "judge called", "right", "accuracy (Wilson 95% CI)",
                    "said done, failed", "said not done, succeeded"], right_from=1)
    for c in result.outcome_calls:
        table.add_row(escape(c.group), str(c.n_known), str(c.n_called), str(c.n_agree),
                      f"{pct(c.accuracy)} {interval(c.accuracy_ci)}", str(c.completed_but_failed),
                      str(c.not_completed_but_succeeded))
    return table


def _separation_sources(result: StatsResult) -> list[str]:
    return [f"{escape(s.group)}: {escape(s.note or '')}; {escape(s.sources_note)}" for s in result.separation
            if s.stratified and s.sources_note]


def _compact_modes(group: GroupStats) -> str:
    """One line instead of a table of dashes when a group has only one outcome."""
    which = ("no known outcome" if group.n == group.n_unknown_outcome else
             "no failed trace" if group.n_failed == 0 else "no successful trace")
    seen = [f"{m.id} {pct(m.prevalence)}" for m in group.modes if m.prevalence]
    not_assessed = [m.id for m in group.modes if m.n_assessed == 0]
    text = f"Modes in {escape(group.name)}: {which}, nothing to compare; "
    text += ("present: " + ", ".join(seen)) if seen else "no mode found present"
    if not_assessed:
        text += f" (not assessed: {', '.join(not_assessed)})"
    return text


def _cascades(result: StatsResult, wide: bool = False) -> list[Table]:
    tables = []
    pairs = sorted(result.cooccurrence, key=lambda c: (-c.n_both, -(c.phi or 0), c.group, c.a, c.b))
    if pairs:
        table = _table("Top co-occurrences (P(B|A) over traces assessing both)", ["group", "A", "B", "both", "phi",
                                                                                  "P(B|A)"], right_from=3)
        for c in pairs[:TOP_PAIRS]:
            table.add_row(_name(c.group, wide), c.a, c.b, str(c.n_both), number(c.phi), pct(c.p_b_given_a))
        tables.append(table)
    order = sorted(result.precedence, key=lambda p: (-p.n_both_localized, -p.share_first, p.group, p.first))
    if order:
        table = _table("Which mode shows first (traces where both are localized)",
                       ["group", "first", "then", "both localized", "first share"], right_from=3)
        for p in order[:TOP_PAIRS]:
            table.add_row(_name(p.group, wide), p.first, p.second, str(p.n_both_localized), pct(p.share_first))
        tables.append(table)
    if result.first_onsets:
        table = _table("Modes that open failed traces", ["group", "mode", "first in", "share"], right_from=2)
        for f in result.first_onsets[:TOP_PAIRS * 2]:
            table.add_row(_name(f.group, wide), f.mode, str(f.n_first), pct(f.share))
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


def _regression(result: StatsResult, wide: bool = False) -> Table | None:
    reg = result.regression
    if not reg.terms:
        return None
    table = _table(f"Logistic regression of success on modes, with group fixed effects (n = {reg.n})",
                   ["term", "odds ratio of success", "95% CI", "p"])
    for t in reg.terms:
        table.add_row(escape(t.term if wide else middle(t.term, 30)), number(t.odds_ratio), interval(t.ci, as_pct=False), p_text(t.p_value))
    return table


def _recommendations(result: StatsResult, wide: bool = False) -> Table | None:
    if not result.recommendations:
        return None
    columns = ["group", "intervention", "modes", "score", "example failed traces"] if wide else \
        ["group", "intervention", "modes", "score"]
    table = _table("What to fix first (score = prevalence in failed traces x fatality)", columns, right_from=3,
                   wrap=("intervention", "modes", "example failed traces"))
    shown: dict[str, int] = {}
    rows = []
    for r in result.recommendations:
        if shown.get(r.group, 0) >= TOP_RECOMMENDATIONS:
            continue
        shown[r.group] = shown.get(r.group, 0) + 1
        rows.append({"group": _name(r.group, wide), "intervention": escape(r.title or r.intervention),
                     "modes": " ".join(r.modes), "score": f"{r.score:.2f}",
                     "example failed traces": escape(", ".join(r.example_traces))})
    return _rows(table, columns, rows)


def _print_unexplained(result: StatsResult) -> None:
    """Failed runs with no mode found present, per group: said right under the summary, never left implicit."""
    for g in result.groups:
        u = g.unexplained
        if not u.n:
            continue
        text = f"[bold yellow]unexplained failures[/] in {escape(g.name)}: {u.n} of {g.n_failed} failed runs have no mode found present"
        if u.trace_ids:
            text += f" (e.g. {escape(', '.join(u.trace_ids[:3]))})"
        if u.not_assessed:
            text += "; not assessed on them: " + ", ".join(f"{m} on {k}" for m, k in u.not_assessed.items())
        console.print(text, soft_wrap=True)


def print_stats(result: StatsResult, mode_names: dict[str, str], wide: bool = False) -> None:
    """Every table of ``mastlens stats``, in reading order, then a legend of the mode ids shown; ``wide``
    shows every column and whole names."""
    print_table(console, _summary(result, wide), wide)
    if result.groups_by_source:
        console.print(f"no model recorded: runs grouped by their source (format/system/domain): "
                      f"{escape(', '.join(result.groups_by_source))}", soft_wrap=True)
    _print_unexplained(result)
    for group in result.groups:
        if 0 < group.n_failed < group.n - group.n_unknown_outcome:
            print_table(console, _modes(group, result.reference, wide), wide)
            if group.stratified:
                console.print(_sources_line(group), soft_wrap=True)
        else:
            console.print(_compact_modes(group), soft_wrap=True)
    separation = _separation(result)
    if separation is not None:
        print_table(console, separation, wide)
        for line in _separation_sources(result):
            console.print(line, soft_wrap=True)
    calls = _outcome_calls(result)
    if calls is not None:
        print_table(console, calls, wide)
    if result.reference:
        notes = sorted({m.prevalence_corrected_note for g in result.groups for m in g.modes
                        if m.prevalence_corrected_note and not m.too_few_assessed})
        console.print(f"corrected = Rogan-Gladen prevalence for the judge's sensitivity/specificity measured against "
                      f"{escape(result.reference)} (bootstrap 95% CI); n/a: " + escape("; ".join(notes) or "-"),
                      style="dim", soft_wrap=True)
    for table in [*_cascades(result, wide), _comparison(result), _regression(result, wide),
                  _recommendations(result, wide)]:
        if table is not None:
            print_table(console, table, wide)
    if result.regression.note:
        console.print(f"[yellow]regression:[/] {escape(result.regression.note)}", soft_wrap=True)
    console.print("verdicts: " + escape(result.verdict_rules), style="dim", soft_wrap=True)
    if not wide:
        console.print("fewer columns and names cut to fit: --wide shows them all, --json gives every number",
                      style="dim", soft_wrap=True)
    console.print("modes: " + "; ".join(f"{m} {name}" for m, name in mode_names.items()), style="dim",
                  soft_wrap=True)
    ex = result.excluded
    if ex.stale or ex.errors or ex.not_in_store:
        console.print(f"left out: {ex.stale} stale annotations (trace changed since), {ex.errors} judge errors, "
                      f"{ex.not_in_store} annotations of traces not in the store", soft_wrap=True)


def _mode_ids(ids: list[str]) -> str:
    return ", ".join(ids)


def print_agreement(result: AgreementResult, wide: bool = False) -> None:
    """Per-mode agreement of B with reference A over the modes both assess, then the micro and macro
    summaries; the modes A labels none of, or B does not assess, in one line each (no rows of dashes)."""
    from mastlens.analysis.agreement import describe_shared_labels

    a, b = escape(result.a), escape(result.b)
    for line in describe_shared_labels(result.shared_labels):
        console.print(f"[yellow]warning:[/] {escape(line)}", soft_wrap=True)
    compared = [s for s in result.modes if s.n > 0]
    unlabelled = [s.id for s in result.modes if s.n_labelled_a == 0]
    unassessed = [s.id for s in result.modes if s.n == 0 and s.n_labelled_a > 0]
    if compared:
        columns = ["mode", "n", "prevalence A / B", "tp/fp/fn/tn", "accuracy", "precision", "recall", "F1",
                   "kappa (95% CI)", "PABAK"] if wide else ["mode", "n", "prevalence A / B", "F1", "kappa (95% CI)",
                                                            "PABAK"]
        table = _table(f"Agreement of {b} with reference {a} ({result.n_traces} traces in both)", columns)
        for s in [*compared, result.micro]:
            row = {"mode": s.id, "n": str(s.n), "prevalence A / B": f"{pct(s.prevalence_a)} / {pct(s.prevalence_b)}",
                   "tp/fp/fn/tn": f"{s.tp}/{s.fp}/{s.fn}/{s.tn}", "accuracy": pct(s.accuracy),
                   "precision": pct(s.precision), "recall": pct(s.recall), "F1": number(s.f1),
                   "kappa (95% CI)": f"{number(s.kappa)} {interval(s.kappa_ci, as_pct=False)}",
                   "PABAK": number(s.pabak)}
            table.add_row(*(row[c] for c in columns), end_section=s is compared[-1])
        print_table(console, table, wide)
        console.print(f"A = {a} (reference), B = {b}")
        console.print(f"macro over modes: F1 {number(result.macro.f1)}, kappa {number(result.macro.kappa)}")
    if len(unlabelled) == len(result.modes) and result.modes:
        loc = result.localization
        what = (f", only where the runs went wrong (a decisive step on {loc.n_step} and a decisive agent on "
                f"{loc.n_agent} of {loc.n} failed runs)" if loc is not None else "")
        console.print(f"{a} labels none of the {len(result.modes)} failure modes{what}: no mode agreement on the "
                      f"{result.n_traces} traces in both", soft_wrap=True)
    elif unlabelled:
        console.print(f"{a} labels none of these modes on the {result.n_traces} traces in both: "
                      f"{_mode_ids(unlabelled)}", soft_wrap=True)
    if unassessed:
        console.print(f"{b} assesses none of these modes where {a} labels them: {_mode_ids(unassessed)}",
                      soft_wrap=True)
    if compared and not wide:
        console.print("--wide adds tp/fp/fn/tn, accuracy, precision and recall", style="dim")
    if result.localization is not None:
        print_table(console, _localization(result.localization, result), wide)


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
