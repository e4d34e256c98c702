"""Calibration from labels: per mode, the confidence threshold at which a judge agrees best with a reference.

``fit_calibration`` takes, for one judge set J and a reference set R (human review labels, MAST-Data labels,
any imported set), the traces both annotated; for each mode, over the traces both assessed, it tries every
confidence J gave a present verdict as a threshold (a present verdict below it counts as absent) and keeps
the one with the highest Cohen's kappa against R (ties: the lowest, which drops fewest verdicts). A mode
keeps no threshold when R marks it present on fewer than ``min_reference_positives`` of those traces (too
few to fit one), or when no threshold raises kappa above keeping every present verdict. Kappas before and
after carry the seeded bootstrap 95% CI of :mod:`mastlens.analysis.agreement`.

The file (``calibrate -o FILE``) is TOML: a ``[thresholds]`` table (mode id -> threshold; what
``--calibration`` applies, editable by hand) and a ``[modes."FM-x"]`` table per mode with the fit's figures.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np

from mastlens.analysis.agreement import agreement_from_matrices, confidences, kappa_from_counts, statuses
from mastlens.analysis.bootstrap import BOOTSTRAP_ROUNDS, SEED
from mastlens.analysis.results import MIN_REFERENCE_POSITIVES, Calibration, ModeCalibration
from mastlens.analysis.thresholds import apply_thresholds
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy

def _best_threshold(judged: np.ndarray, conf: np.ndarray, reference: np.ndarray) -> tuple[float | None, float]:
    """The threshold with the highest kappa (None when none beats keeping all) and that kappa."""
    def kappa(pred: np.ndarray) -> float:
        tp, fp = int((pred & reference).sum()), int((pred & ~reference).sum())
        fn, tn = int((~pred & reference).sum()), int((~pred & ~reference).sum())
        value = float(kappa_from_counts(tp, fp, fn, tn))
        return value if math.isfinite(value) else -math.inf

    baseline = kappa(judged)
    best, best_kappa = None, baseline
    for t in np.unique(conf[judged & np.isfinite(conf)]):
        value = kappa(judged & ~(conf < t))
        if value > best_kappa + 1e-12:
            best, best_kappa = float(t), value
    return best, best_kappa


def fit_calibration(judged: np.ndarray, conf: np.ndarray, reference: np.ndarray, mode_ids: list[str], *,
                    set_name: str = "", reference_name: str = "",
                    min_reference_positives: int = MIN_REFERENCE_POSITIVES, rounds: int = BOOTSTRAP_ROUNDS,
                    seed: int = SEED) -> Calibration:
    """Fit per-mode thresholds. ``judged`` / ``reference``: traces x modes statuses (-1 not assessed, 0
    absent, 1 present), row-aligned; ``conf``: J's confidences (NaN where none)."""
    out = Calibration(set=set_name, reference=reference_name, n_traces=int(judged.shape[0]),
                      min_reference_positives=min_reference_positives)
    for j, mode_id in enumerate(mode_ids):
        both = (judged[:, j] >= 0) & (reference[:, j] >= 0)
        pred, truth, c = judged[both, j] == 1, reference[both, j] == 1, conf[both, j]
        m = ModeCalibration(id=mode_id, n=int(both.sum()), reference_positives=int(truth.sum()),
                            present=int(pred.sum()), with_confidence=int((pred & np.isfinite(c)).sum()))
        if m.n == 0:
            m.note = "assessed by both sets on no trace: no threshold"
        elif m.reference_positives < min_reference_positives:
            m.note = (f"too few reference positives ({m.reference_positives} < {min_reference_positives}): "
                      "no threshold")
        elif not m.with_confidence:
            m.note = "no present verdict carries a confidence: no threshold"
        else:
            m.threshold, _ = _best_threshold(pred, c, truth)
            if m.threshold is None:
                m.note = "no threshold raises agreement above keeping every present verdict"
        if m.threshold is not None:
            out.thresholds[mode_id] = m.threshold
        out.modes.append(m)
    after, _ = apply_thresholds(judged, conf, mode_ids, out.thresholds)
    before_stats = agreement_from_matrices(reference, judged, mode_ids, rounds=rounds, seed=seed)
    after_stats = agreement_from_matrices(reference, after, mode_ids, rounds=rounds, seed=seed)
    for m, b, a in zip(out.modes, before_stats.modes, after_stats.modes):
        m.kappa_before, m.kappa_before_ci, m.kappa_after, m.kappa_after_ci = b.kappa, b.kappa_ci, a.kappa, a.kappa_ci
    out.micro_before, out.micro_before_ci = before_stats.micro.kappa, before_stats.micro.kappa_ci
    out.micro_after, out.micro_after_ci = after_stats.micro.kappa, after_stats.micro.kappa_ci
    return out


def compute_calibration(store: Store, set_name: str, reference: str, *,
                        min_reference_positives: int = MIN_REFERENCE_POSITIVES, rounds: int = BOOTSTRAP_ROUNDS,
                        seed: int = SEED) -> Calibration:
    """Fit ``set_name``'s thresholds against ``reference`` on the traces both annotated (ok, current)."""
    for name in (set_name, reference):
        if store.get_set(name) is None:
            raise ValueError(f"no annotation set {name!r}")
    mode_ids = load_taxonomy().ids
    sj, sr = statuses(store, set_name, mode_ids), statuses(store, reference, mode_ids)
    cj = confidences(store, set_name, mode_ids)
    common = sorted(set(sj) & set(sr))
    shape = (len(common), len(mode_ids))
    judged = np.array([sj[t] for t in common], dtype=np.int8).reshape(shape)
    ref = np.array([sr[t] for t in common], dtype=np.int8).reshape(shape)
    conf = np.array([cj.get(t, np.full(len(mode_ids), np.nan)) for t in common], dtype=float).reshape(shape)
    return fit_calibration(judged, conf, ref, mode_ids, set_name=set_name, reference_name=reference,
                           min_reference_positives=min_reference_positives, rounds=rounds, seed=seed)


# -- the file -----------------------------------------------------------------------------------------------


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a TOML basic string: JSON's escapes are TOML's


def calibration_toml(cal: Calibration) -> str:
    """The calibration as TOML (``load_calibration`` reads it back)."""
    lines = ["# mastlens calibrate: per-mode confidence thresholds. With --calibration, a present verdict whose",
             "# confidence is below its mode's threshold counts as absent. Modes missing from [thresholds] keep",
             "# every present verdict.",
             f"set = {_value(cal.set)}", f"reference = {_value(cal.reference)}", f"n_traces = {cal.n_traces}",
             f"min_reference_positives = {cal.min_reference_positives}"]
    for key in ("micro_before", "micro_before_ci", "micro_after", "micro_after_ci"):
        if getattr(cal, key) is not None:
            lines.append(f"{key} = {_value(getattr(cal, key))}")
    lines += ["", "[thresholds]"] + [f"{_value(m)} = {_value(t)}" for m, t in cal.thresholds.items()]
    for m in cal.modes:
        lines += ["", f"[modes.{_value(m.id)}]"]
        for key, value in m.model_dump(exclude={"id"}).items():
            if value is not None and value != "":
                lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def write_calibration(cal: Calibration, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibration_toml(cal), encoding="utf-8")


def load_calibration(path: str | Path) -> Calibration:
    """A calibration file; ``ValueError`` naming the file and the problem (not TOML, an unknown mode, a
    threshold that is not a number in [0, 1])."""
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the calibration file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not TOML ({exc})") from None
    known = set(load_taxonomy().ids)
    thresholds = table.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise ValueError(f"{path}: [thresholds] must be a table of mode id = threshold")
    for mode_id, value in thresholds.items():
        if mode_id not in known:
            raise ValueError(f"{path}: unknown mode {mode_id!r} in [thresholds] (known: {', '.join(sorted(known))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{path}: threshold of {mode_id} must be a number in [0, 1], not {value!r}")
    modes = []
    for mode_id, figures in (table.get("modes") or {}).items():
        try:
            modes.append(ModeCalibration(id=mode_id, **figures))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: [modes.{mode_id!r}]: {exc}") from None
    try:
        return Calibration(
            set=str(table.get("set", "")), reference=str(table.get("reference", "")),
            n_traces=int(table.get("n_traces", 0)),
            min_reference_positives=int(table.get("min_reference_positives", MIN_REFERENCE_POSITIVES)),
            thresholds={m: float(v) for m, v in thresholds.items()}, modes=modes,
            **{k: table[k] for k in ("micro_before", "micro_before_ci", "micro_after", "micro_after_ci") if k in table},
            file=str(path))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
