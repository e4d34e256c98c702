"""Statistics that do not confound sources.

A run's *source* is where it came from: its format, its system (the benchmark or agent framework) and its
domain (``domain`` / ``environment`` metadata), or the run tag ``source`` when one was given at ingest.
When a group mixes sources whose outcome rates differ, a pooled figure mostly measures which source a run
came from (every Who&When run failed; a detector that only fires on team chats then looks "fatal").
So, whenever a group's runs with a known outcome come from more than one source:

* the AUROC of the failure vectors is computed within each source and combined, weighted by the source's
  failed x successful pairs (the AUROC over within-source pairs only); its bootstrap CI resamples each
  class within each source (seeded). Sources with only one outcome carry no within-source pair and are
  left out, and said so;
* a mode's failed-vs-successful test is the Cochran-Mantel-Haenszel test over sources (statsmodels,
  continuity-corrected), its effect the Mantel-Haenszel risk difference and pooled odds ratio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DOMAIN_KEYS = ("domain", "environment")
SOURCE_TAG = "source"


def source_label(fmt: str | None, system: str | None = None, metadata: Mapping[str, Any] | None = None,
                 tag: str | None = None) -> str:
    """``format/system/domain`` (parts left out when absent or repeating the format); the ``source`` run
    tag wins when given."""
    if tag:
        return str(tag)
    parts = [str(fmt or "unknown format")]
    if system and str(system).lower() != parts[0].lower():
        parts.append(str(system))
    domain = next((metadata[k] for k in DOMAIN_KEYS if metadata and isinstance(metadata.get(k), str)
                   and metadata[k]), None)
    if domain:
        parts.append(domain)
    return "/".join(parts)


@dataclass
class Stratum:
    """One source's outcome counts (over runs with a known outcome)."""

    source: str
    n: int
    n_failed: int

    @property
    def n_success(self) -> int:
        return self.n - self.n_failed

    @property
    def informative(self) -> bool:
        return self.n_failed > 0 and self.n_success > 0


@dataclass
class Strata:
    """The sources of a set of runs with a known outcome, and whether the group mixes them."""

    strata: list[Stratum] = field(default_factory=list)

    @classmethod
    def of(cls, sources: np.ndarray, failed: np.ndarray, weights: np.ndarray | None = None) -> Strata:
        """``weights``: how many runs each row stands for (default one)."""
        w = np.ones(len(failed), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
        names = sorted(set(np.asarray(sources).tolist()))
        return cls([Stratum(str(s), int(w[sources == s].sum()), int(w[(sources == s) & failed].sum()))
                    for s in names])

    @property
    def mixed(self) -> bool:
        return len(self.strata) > 1

    def describe(self) -> str:
        """``tau/airline 31% of 100 successful, whowhen 0% of 66``."""
        return ", ".join(f"{s.source} {100 * s.n_success / s.n:.0f}% of {s.n}" for s in self.strata if s.n) + \
            " successful"


@dataclass
class StratifiedTest:
    """Failed vs successful for one mode, over sources."""

    n_failed: int = 0  # assessed failed runs in sources with both outcomes
    n_success: int = 0
    n_strata: int = 0  # sources with both outcomes assessed
    delta_pp: float | None = None  # Mantel-Haenszel risk difference, points
    risk_ratio: float | None = None  # Mantel-Haenszel risk ratio (failed over successful)
    odds_ratio: float | None = None  # Mantel-Haenszel pooled odds ratio
    odds_ratio_ci: tuple[float, float] | None = None
    p_value: float | None = None  # Cochran-Mantel-Haenszel (continuity-corrected)


def cmh_test(kf: np.ndarray, nf: np.ndarray, ks: np.ndarray, ns: np.ndarray) -> StratifiedTest:
    """CMH test of one mode over sources: per source ``kf`` present of ``nf`` assessed failed runs and ``ks``
    of ``ns`` successful ones. Sources missing either side carry no within-source comparison and are left
    out. With no variation left (the mode present everywhere or nowhere), p is 1."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    kf, nf, ks, ns = (np.asarray(v, dtype=float) for v in (kf, nf, ks, ns))
    keep = (nf > 0) & (ns > 0)
    out = StratifiedTest(n_failed=int(nf[keep].sum()), n_success=int(ns[keep].sum()), n_strata=int(keep.sum()))
    if not keep.any():
        return out
    kf, nf, ks, ns = kf[keep], nf[keep], ks[keep], ns[keep]
    w = nf * ns / (nf + ns)
    out.delta_pp = float(100 * (w * (kf / nf - ks / ns)).sum() / w.sum())
    n = nf + ns
    if (ks * nf / n).sum() > 0:
        out.risk_ratio = float((kf * ns / n).sum() / (ks * nf / n).sum())
    tables = np.stack([np.stack([kf, nf - kf]), np.stack([ks, ns - ks])])  # 2 x 2 x sources
    informative = ((kf + ks) > 0) & ((nf - kf + ns - ks) > 0)  # a source where the mode varies
    if not informative.any():
        out.p_value = 1.0
        return out
    table = StratifiedTable(tables[:, :, informative])
    with np.errstate(divide="ignore", invalid="ignore"):
        p = float(table.test_null_odds(correction=True).pvalue)
        ratio = float(table.oddsratio_pooled)
        low, high = (float(v) for v in table.oddsratio_pooled_confint())
    out.p_value = min(1.0, p) if np.isfinite(p) else None
    if np.isfinite(ratio) and ratio > 0:
        out.odds_ratio = ratio
        if np.isfinite(low) and np.isfinite(high):
            out.odds_ratio_ci = (low, high)
    return out
