"""Text formatting shared by the fidelity benches (bench_fidelity.py and the replay's figures)."""

from __future__ import annotations


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def ci(interval: tuple[float, float] | list[float] | None, as_pct: bool = True) -> str:
    if not interval:
        return ""
    low, high = interval
    return f" [{pct(low)}, {pct(high)}]" if as_pct else f" [{low:.2f}, {high:.2f}]"


def localization_row(label: str, loc: dict) -> str:
    return (f"  {label:<48} n={loc['n_step']:>3}  step exact {pct(loc['step_exact']):>6}"
            f"  +-1 {pct(loc['step_within_1']):>6}  +-3 {pct(loc['step_within_3']):>6}  agent {pct(loc['agent']):>6}"
            f"  no step {pct(loc['no_step'])}")


def localization_lines(fig: dict, naive_label: str) -> list[str]:
    """The judge's localization rows per group, each followed by the naive baseline's row of that group."""
    naive = {x["group"]: x for x in fig["naive"]}
    lines = []
    for loc in fig["judge"]:
        lines.append(localization_row(f"{loc['group']}: judge", loc))
        if loc["group"] in naive:
            lines.append(localization_row(f"{loc['group']}: {naive_label}", naive[loc["group"]]))
    return lines
