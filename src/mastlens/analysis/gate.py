"""``mastlens gate``: thresholds on a run (and on its diff against a base run) for CI.

Decisions use intervals and tests, not point estimates: ``min_success_rate`` is violated when the Wilson
interval's upper bound is below it, ``max_prevalence`` when the interval's lower bound is above it,
``max_increase_pp`` only on an increase significant at ``alpha`` (Holm across modes). ``strict = true``
compares the point estimates instead. Every check says the rule it applied.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, Field

from mastlens.analysis.diff_results import DiffResult, SideSummary
from mastlens.taxonomy import Taxonomy, load_taxonomy

CI = Optional[tuple[float, float]]
DIFF_RULES = ("max_increase_pp", "no_new_fatal")


class GateRulesError(ValueError):
    """A rules file that cannot be used; the message is one line naming the file and the key."""


class GateRules(BaseModel):
    """The rules of a gate file; every rule is optional."""

    min_success_rate: float | None = None
    max_prevalence: dict[str, float] = Field(default_factory=dict)
    max_increase_pp: float | None = None
    alpha: float = 0.05
    no_new_fatal: bool = False
    require_assessed: float | None = None
    strict: bool = False

    def active(self) -> list[str]:
        """The rules the file sets (``alpha`` and ``strict`` only tune them)."""
        out = [k for k in ("min_success_rate", "max_increase_pp", "require_assessed") if getattr(self, k) is not None]
        if self.max_prevalence:
            out.append("max_prevalence")
        if self.no_new_fatal:
            out.append("no_new_fatal")
        return out

    def needs_diff(self) -> list[str]:
        return [r for r in self.active() if r in DIFF_RULES]


def _number(path: Path, key: str, value: Any, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GateRulesError(f"{path}: {key}: expected a number, got {value!r}")
    if value < low or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise GateRulesError(f"{path}: {key}: must be {span}, got {value!r}")
    return float(value)


def parse_gate_rules(table: dict[str, Any], path: Path, taxonomy: Taxonomy | None = None) -> GateRules:
    """Rules from a parsed TOML table; raises :class:`GateRulesError` naming the first bad key."""
    taxonomy = taxonomy or load_taxonomy()
    known = set(GateRules.model_fields)
    for key in table:
        if key not in known:
            raise GateRulesError(f"{path}: {key}: unknown rule (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for key in ("min_success_rate", "require_assessed"):
        if key in table:
            values[key] = _number(path, key, table[key], 0.0, 1.0)
    if "max_increase_pp" in table:
        values["max_increase_pp"] = _number(path, "max_increase_pp", table["max_increase_pp"], 0.0, 100.0)
    if "alpha" in table:
        values["alpha"] = _number(path, "alpha", table["alpha"], 0.0, 1.0)
        if not 0 < values["alpha"] < 1:
            raise GateRulesError(f"{path}: alpha: must be between 0 and 1 (exclusive), got {table['alpha']!r}")
    for key in ("no_new_fatal", "strict"):
        if key in table:
            if not isinstance(table[key], bool):
                raise GateRulesError(f"{path}: {key}: expected true or false, got {table[key]!r}")
            values[key] = table[key]
    if "max_prevalence" in table:
        limits = table["max_prevalence"]
        if not isinstance(limits, dict):
            raise GateRulesError(f"{path}: max_prevalence: expected a table like {{ \"FM-3.3\" = 0.2 }}, got {limits!r}")
        ids = set(taxonomy.ids) | {c.id for c in taxonomy.categories}
        for target, limit in limits.items():
            if target not in ids:
                raise GateRulesError(f"{path}: max_prevalence.{target}: not a mode or category of taxonomy "
                                     f"{taxonomy.version}")
            _number(path, f"max_prevalence.{target}", limit, 0.0, 1.0)
        values["max_prevalence"] = {k: float(v) for k, v in limits.items()}
    return GateRules(**values)


def load_gate_rules(path: str | Path, taxonomy: Taxonomy | None = None) -> GateRules:
    """Read a gate rules file (TOML). Raises :class:`GateRulesError` with one line naming the problem."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GateRulesError(f"{path}: cannot read the rules file: {exc}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GateRulesError(f"{path}: not valid TOML: {exc}") from None
    return parse_gate_rules(table, path, taxonomy)


class GateCheck(BaseModel):
    rule: str  # e.g. "max_prevalence.FM-3.3"
    holds: bool
    threshold: float | bool
    figure: float | None = None
    ci: CI = None
    applied: str  # the decision rule, in words
    detail: str = ""


class GateResult(BaseModel):
    rules_file: str
    evaluated_on: str  # what the figures are of, e.g. "run = new vs run = base (paired on task)"
    strict: bool = False
    alpha: float = 0.05
    judge_change: str | None = None
    calibration: str | None = None  # --calibration: the thresholds applied, in words
    checks: list[GateCheck] = Field(default_factory=list)

    @property
    def holds(self) -> bool:
        return all(c.holds for c in self.checks)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def evaluate_gate(rules: GateRules, new: SideSummary, *, diff: DiffResult | None = None, rules_file: str = "",
                  evaluated_on: str = "", base: SideSummary | None = None) -> GateResult:
    """Check every rule the file sets against ``new`` (and ``diff`` for the rules that compare runs)."""
    missing = rules.needs_diff()
    if missing and diff is None:
        raise ValueError(f"{', '.join(missing)} compare two runs: give --base and --new")
    result = GateResult(rules_file=rules_file, evaluated_on=evaluated_on, strict=rules.strict, alpha=rules.alpha,
                        judge_change=diff.judge_change if diff else None)
    stats = new.stats
    if rules.min_success_rate is not None:
        t, rate, interval = rules.min_success_rate, stats.success_rate, new.success_rate_ci
        if rules.strict:
            applied, holds = f"violated when the success rate < {_pct(t)} (strict: point estimate)", rate is not None and rate >= t
        else:
            applied = f"violated when the 95% CI's upper bound < {_pct(t)}"
            holds = interval is not None and interval[1] >= t
        result.checks.append(GateCheck(rule="min_success_rate", holds=holds, threshold=t, figure=rate, ci=interval,
                                       applied=applied, detail="" if rate is not None else "no trace with a known outcome"))
    modes = {m.id: m for m in stats.modes}
    categories = {c.id: c for c in stats.categories}
    for target, limit in rules.max_prevalence.items():
        stat = modes.get(target) or categories.get(target)
        figure, interval = (stat.prevalence, stat.prevalence_ci) if stat else (None, None)
        if rules.strict:
            applied = f"violated when the prevalence > {_pct(limit)} (strict: point estimate)"
            holds = figure is not None and figure <= limit
        else:
            applied = f"violated when the 95% CI's lower bound > {_pct(limit)}"
            holds = interval is not None and interval[0] <= limit
        result.checks.append(GateCheck(rule=f"max_prevalence.{target}", holds=holds, threshold=limit, figure=figure,
                                       ci=interval, applied=applied,
                                       detail="" if figure is not None else "not assessed in these traces"))
    if rules.max_increase_pp is not None and diff is not None:
        result.checks.append(_increase_check(rules, diff))
    if rules.no_new_fatal and diff is not None:
        newly = [v.mode for v in diff.verdict_changes if v.kind == "newly_fatal"]
        result.checks.append(GateCheck(
            rule="no_new_fatal", holds=not newly, threshold=True, figure=float(len(newly)),
            applied=f"violated when a mode is fatal in {diff.new} and not in {diff.base} (the verdict rules of stats)",
            detail=f"newly fatal: {', '.join(newly)}" if newly else ""))
    if rules.require_assessed is not None:
        result.checks.append(_assessed_check(rules.require_assessed, [s for s in (base, new) if s is not None]))
    return result


def _increase_check(rules: GateRules, diff: DiffResult) -> GateCheck:
    limit = rules.max_increase_pp
    defined = [m for m in diff.modes if m.diff is not None]
    if rules.strict:
        applied = f"violated when a mode rises by more than {limit:g} pp (strict: point estimate)"
        violating = [m for m in defined if 100 * m.diff > limit]
    else:
        applied = (f"violated when a mode rises by more than {limit:g} pp and the rise is significant "
                   f"(Holm p < {rules.alpha:g}, {diff.test})")
        violating = [m for m in defined if 100 * m.diff > limit and m.p_holm is not None and m.p_holm < rules.alpha]
    shown = max(violating or defined, key=lambda m: m.diff, default=None)
    detail = ", ".join(f"{m.id} +{100 * m.diff:.1f} pp (Holm p {m.p_holm:.3g})" for m in violating)
    return GateCheck(rule="max_increase_pp", holds=not violating, threshold=limit,
                     figure=100 * shown.diff if shown else None,
                     ci=(100 * shown.diff_ci[0], 100 * shown.diff_ci[1]) if shown and shown.diff_ci else None,
                     applied=applied, detail=detail or (f"largest rise: {shown.id}" if shown else "no mode to compare"))


def _assessed_check(share: float, sides: list[SideSummary]) -> GateCheck:
    low: list[str] = []
    worst: float | None = None
    for side in sides:
        for mode_id, value in side.assessed_share.items():
            value = value or 0.0
            worst = value if worst is None else min(worst, value)
            if value < share:
                low.append(f"{mode_id} {_pct(value)} in {side.name}")
    return GateCheck(rule="require_assessed", holds=not low and worst is not None, threshold=share, figure=worst,
                     applied=f"violated when the judge assessed under {_pct(share)} of a run's traces on some mode "
                             "(judge errors count as not assessed)",
                     detail=("; ".join(low[:8]) + (f" (+{len(low) - 8} more)" if len(low) > 8 else "")) if low else "")
