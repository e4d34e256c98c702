"""`mastlens calibrate` and `--calibration`: per-mode confidence thresholds fitted against a reference on
constructed sets where the right threshold is known, then applied by stats, agree, report, diff and gate."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from _html_tree import parse
from typer.testing import CliRunner

from mastlens.analysis.agreement import kappa_from_counts
from mastlens.analysis.calibration import fit_calibration, load_calibration
from mastlens.cli.app import app
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import (
    Annotation, AnnotationStatus, ModeStatus, ModeVerdict, Outcome, Source, Step, StepKind, Trace, Verdict,
    label_annotation,
)

MODE_IDS = load_taxonomy().ids
N = 40
# FM-1.3: the reference marks 10 traces; the judge flags those at confidence 0.9 and 10 more at 0.4: threshold 0.9.
# FM-3.2: 8 true positives at 0.6, 6 false positives at 0.3 and one at 0.95: threshold 0.6 (0.95 would drop the 8).
# FM-2.1: the reference marks 3 traces only: too few positives, no threshold.
# FM-1.1: the judge already agrees perfectly: no threshold raises agreement.
CASES = {
    "FM-1.3": ([(i, 0.9) for i in range(10)], [(i, 0.4) for i in range(10, 20)], range(10)),
    "FM-3.2": ([(i, 0.6) for i in range(8)], [(i, 0.3) for i in range(20, 26)] + [(39, 0.95)], range(8)),
    "FM-2.1": ([(i, 0.8) for i in range(3)], [(i, 0.2) for i in range(30, 35)], range(3)),
    "FM-1.1": ([(i, 0.7) for i in range(12)], [], range(12)),
}
RIGHT = {"FM-1.3": 0.9, "FM-3.2": 0.6}


def _matrices():
    judged = np.zeros((N, len(MODE_IDS)), dtype=np.int8)
    reference = np.zeros_like(judged)
    conf = np.full(judged.shape, np.nan)
    for mode_id, (hits, false_alarms, truth) in CASES.items():
        j = MODE_IDS.index(mode_id)
        for i, c in hits + false_alarms:
            judged[i, j], conf[i, j] = 1, c
        reference[list(truth), j] = 1
    return judged, conf, reference


def _kappa(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(kappa_from_counts(int((pred & truth).sum()), int((pred & ~truth).sum()),
                                   int((~pred & truth).sum()), int((~pred & ~truth).sum())))


def test_fit_finds_the_known_thresholds():
    judged, conf, reference = _matrices()
    cal = fit_calibration(judged, conf, reference, MODE_IDS, set_name="j", reference_name="r", rounds=200)
    assert cal.thresholds == RIGHT
    by_id = {m.id: m for m in cal.modes}
    assert by_id["FM-1.3"].kappa_after == pytest.approx(1.0)
    j = MODE_IDS.index("FM-1.3")
    assert by_id["FM-1.3"].kappa_before == pytest.approx(_kappa(judged[:, j] == 1, reference[:, j] == 1))
    assert by_id["FM-1.3"].kappa_before_ci is not None and by_id["FM-1.3"].kappa_after_ci is not None
    j = MODE_IDS.index("FM-3.2")
    expected = _kappa((judged[:, j] == 1) & (conf[:, j] >= 0.6), reference[:, j] == 1)
    assert by_id["FM-3.2"].kappa_after == pytest.approx(expected) and expected > by_id["FM-3.2"].kappa_before
    assert by_id["FM-2.1"].threshold is None and by_id["FM-2.1"].note.startswith("too few reference positives (3 < 5)")
    assert by_id["FM-1.1"].threshold is None and "no threshold raises agreement" in by_id["FM-1.1"].note
    assert cal.micro_after > cal.micro_before


def _trace(i: int) -> Trace:
    steps = [Step(index=0, kind=StepKind.USER, content=f"task {i}"), Step(index=1, kind=StepKind.ASSISTANT,
                                                                          content="done")]
    return Trace(id=f"t{i:02d}", source=Source(format="native"), model="m", steps=steps,
                 outcome=Outcome(success=i % 2 == 0, success_from="source"))


@pytest.fixture
def calibrated(store, db_path, tmp_path):
    judged, conf, reference = _matrices()
    store.ensure_set("judge", judge="openai", model="m")
    store.ensure_set("ref", judge="labels")
    for i in range(N):
        store.add_trace(_trace(i))
        store.set_tags(f"t{i:02d}", {"run": "base" if i < N // 2 else "new"})
    anns, labels = [], []
    for i in range(N):
        modes = {m: ModeVerdict(id=m, status=ModeStatus.PRESENT if judged[i, j] else ModeStatus.ABSENT,
                                confidence=None if np.isnan(conf[i, j]) else float(conf[i, j]))
                 for j, m in enumerate(MODE_IDS)}
        anns.append(Annotation(trace_id=f"t{i:02d}", set="judge", status=AnnotationStatus.OK,
                               verdict=Verdict(modes=modes)))
        labels.append(label_annotation(f"t{i:02d}", "ref", {m: bool(reference[i, j]) for j, m in enumerate(MODE_IDS)},
                                       MODE_IDS))
    store.save_annotations(anns)
    store.save_annotations(labels)
    store.close()
    out = CliRunner().invoke(app, ["calibrate", "--set", "judge", "--reference", "ref", "-o", str(tmp_path / "cal.toml"),
                                   "--db", str(db_path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "2 of 14 modes get a threshold" in out.output and "too few reference positives (3 < 5)" in out.output
    return str(db_path), tmp_path / "cal.toml"


def test_the_file_round_trips_and_is_toml(calibrated):
    _, path = calibrated
    table = tomllib.loads(path.read_text())
    assert table["thresholds"] == RIGHT and table["set"] == "judge" and table["reference"] == "ref"
    assert table["modes"]["FM-2.1"]["note"].startswith("too few reference positives")
    cal = load_calibration(path)
    assert cal.thresholds == RIGHT and cal.file == str(path) and len(cal.modes) == 14


def test_stats_and_agree_apply_it_and_say_so(calibrated):
    db, path = calibrated
    plain = json.loads(CliRunner().invoke(app, ["stats", "--db", db, "--set", "judge", "--json"]).output)
    out = CliRunner().invoke(app, ["stats", "--db", db, "--set", "judge", "--json", "--calibration", str(path)])
    stats = json.loads(out.output)
    assert stats["calibration"]["demoted"] == {"FM-1.3": 10, "FM-3.2": 6}
    prevalence = {m["id"]: m["prevalence"] for m in stats["groups"][0]["modes"]}
    before = {m["id"]: m["prevalence"] for m in plain["groups"][0]["modes"]}
    assert before["FM-1.3"] == 20 / N and prevalence["FM-1.3"] == 10 / N and prevalence["FM-2.1"] == before["FM-2.1"]
    table = CliRunner().invoke(app, ["stats", "--db", db, "--set", "judge", "--calibration", str(path)],
                               env={"COLUMNS": "200"})
    assert "a present verdict below its mode's confidence threshold counts as absent (16 counted absent" \
        in " ".join(table.output.split())
    agree = json.loads(CliRunner().invoke(app, ["agree", "ref", "judge", "--db", db, "--json", "--calibration",
                                                str(path)]).output)
    kappas = {m["id"]: m["kappa"] for m in agree["modes"]}
    fit = {m.id: m for m in load_calibration(path).modes}
    assert kappas["FM-1.3"] == pytest.approx(1.0) and kappas["FM-3.2"] == pytest.approx(fit["FM-3.2"].kappa_after)
    assert agree["calibration"]["thresholds"] == RIGHT


def test_report_card_shows_thresholds_and_agreement_before_after(calibrated, tmp_path):
    db, path = calibrated
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    out = CliRunner().invoke(app, ["report", "--db", db, "--set", "judge", "-o", str(html), "--md", str(md),
                                   "--calibration", str(path)])
    assert out.exit_code == 0, out.output
    assert "counts as absent" in out.output
    tree, errors = parse(html.read_text())
    assert errors == []
    section = tree.by_id("calibration")
    assert "16 present verdicts counted absent" in " ".join(section.text().split())
    assert "too few reference positives" in section.text()

    def cells(table, mode_id):
        (row,) = table.find_all("tr", **{"data-mode": mode_id})
        return [" ".join(td.text().split()) for td in row.find_all("td")][1:]

    # threshold, dropped here, reference positives, kappa before, kappa after
    fit = next(m for m in load_calibration(path).modes if m.id == "FM-1.3")
    before = f"{fit.kappa_before:.2f} [{fit.kappa_before_ci[0]:.2f}, {fit.kappa_before_ci[1]:.2f}]"
    assert cells(section, "FM-1.3")[:5] == ["0.90", "10", "10", before, "1.00 [1.00, 1.00]"]
    assert "counts as absent" in md.read_text()
    # the drill-down still shows each stored verdict, marking those the thresholds count absent
    assert len(tree.find_all("span", class_="below-threshold")) == 16
    # the card's mean confidence of present verdicts per mode (as stored, before any threshold)
    confidence = tree.by_id("confidence")
    assert cells(confidence, "FM-1.3") == ["20", "0.65"] and cells(confidence, "FM-1.1") == ["12", "0.70"]


def test_diff_and_gate_apply_it_and_say_so(calibrated, tmp_path):
    db, path = calibrated
    diff = json.loads(CliRunner().invoke(app, ["diff", "base", "new", "--db", db, "--set", "judge", "--json",
                                               "--calibration", str(path)]).output)
    assert diff["calibration"][0]["demoted"] == {"FM-1.3": 10, "FM-3.2": 6}
    md = tmp_path / "d.md"
    assert CliRunner().invoke(app, ["diff", "base", "new", "--db", db, "--set", "judge", "--md", str(md),
                                    "--calibration", str(path)]).exit_code == 0
    assert "counts as absent (16 counted absent" in md.read_text()
    base = next(m for m in diff["modes"] if m["id"] == "FM-1.3")
    assert base["prevalence_base"] == pytest.approx(10 / 20)  # t00-t09 keep FM-1.3, t10-t19 lose it
    rules = tmp_path / "gate.toml"
    rules.write_text('[max_prevalence]\n"FM-1.3" = 0.9\n', encoding="utf-8")
    out = CliRunner().invoke(app, ["gate", str(rules), "--db", db, "--set", "judge", "--calibration", str(path)])
    assert "counts as absent" in " ".join(out.output.split())
    gate = json.loads(CliRunner().invoke(app, ["gate", str(rules), "--db", db, "--set", "judge", "--json",
                                               "--calibration", str(path)]).output)
    assert "16 counted absent" in gate["calibration"]


def test_a_bad_calibration_file_is_one_clear_error(calibrated, tmp_path):
    db, _ = calibrated
    bad = tmp_path / "bad.toml"
    bad.write_text('[thresholds]\n"FM-9.9" = 0.5\n', encoding="utf-8")
    out = CliRunner().invoke(app, ["stats", "--db", db, "--set", "judge", "--calibration", str(bad)])
    assert out.exit_code == 2 and "unknown mode 'FM-9.9'" in out.output and str(bad) in out.output
    bad.write_text('[thresholds]\n"FM-1.3" = 2\n', encoding="utf-8")
    out = CliRunner().invoke(app, ["agree", "ref", "judge", "--db", db, "--calibration", str(bad)])
    assert out.exit_code == 2 and "must be a number in [0, 1]" in out.output
