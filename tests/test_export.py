"""`mastlens export`: failure vectors as csv / parquet / jsonl (tri-state kept), and MAST labels as OTLP/JSON
``gen_ai.evaluation.result`` log records, checked by a structural validator of the OTLP JSON encoding."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from _otel_data import AGENT, TOOL, TRACE_ID, otlp_agent_export
from _report_data import build_store
from typer.testing import CliRunner

from mastlens.adapters.loader import read_file
from mastlens.cli.app import app
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import Annotation, AnnotationStatus, Evidence, ModeStatus, ModeVerdict, StepKind, Verdict

runner = CliRunner()
TAXONOMY = load_taxonomy()
MODES = TAXONOMY.ids

# -- an OTLP/JSON logs validator (opentelemetry-proto 1.5.0 JSON encoding) ---------------------------------
_ANY_VALUE_KEYS = {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue"}
_LOG_RECORD_KEYS = {"timeUnixNano", "observedTimeUnixNano", "severityNumber", "severityText", "body", "attributes",
                    "droppedAttributesCount", "flags", "traceId", "spanId", "eventName"}
_HEX = {"traceId": re.compile(r"^[0-9a-f]{32}$"), "spanId": re.compile(r"^[0-9a-f]{16}$")}


def check_any_value(value: dict, where: str) -> None:
    assert isinstance(value, dict) and len(value) == 1 and set(value) <= _ANY_VALUE_KEYS, f"{where}: {value!r}"
    (kind, inner), = value.items()
    if kind == "intValue":
        assert isinstance(inner, str) and re.fullmatch(r"-?\d+", inner), f"{where}: int64 must be a string"
    elif kind == "doubleValue":
        assert isinstance(inner, (int, float)) and not isinstance(inner, bool), where
    elif kind == "boolValue":
        assert isinstance(inner, bool), where
    elif kind == "stringValue":
        assert isinstance(inner, str), where
    elif kind == "arrayValue":
        for i, v in enumerate(inner["values"]):
            check_any_value(v, f"{where}[{i}]")
    elif kind == "kvlistValue":
        check_attributes(inner["values"], where)


def check_attributes(attributes: list, where: str) -> None:
    assert isinstance(attributes, list), where
    keys = [kv["key"] for kv in attributes]
    assert len(keys) == len(set(keys)), f"{where}: duplicate attribute keys"
    for kv in attributes:
        assert set(kv) == {"key", "value"} and isinstance(kv["key"], str) and kv["key"], where
        check_any_value(kv["value"], f"{where}.{kv['key']}")


def validate_otlp_logs(doc: dict) -> list[dict]:
    """Assert ``doc`` is a well-formed OTLP/JSON ExportLogsServiceRequest; return its log records."""
    assert set(doc) == {"resourceLogs"} and isinstance(doc["resourceLogs"], list)
    records = []
    for r, resource_logs in enumerate(doc["resourceLogs"]):
        check_attributes(resource_logs["resource"]["attributes"], f"resourceLogs[{r}].resource")
        for s, scope_logs in enumerate(resource_logs["scopeLogs"]):
            assert isinstance(scope_logs["scope"]["name"], str) and scope_logs["scope"]["name"]
            for i, record in enumerate(scope_logs["logRecords"]):
                where = f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]"
                assert set(record) <= _LOG_RECORD_KEYS, f"{where}: unknown fields {set(record) - _LOG_RECORD_KEYS}"
                for key in ("timeUnixNano", "observedTimeUnixNano"):
                    assert isinstance(record[key], str) and record[key].isdigit() and int(record[key]) > 0, where
                assert isinstance(record["severityNumber"], int) and 1 <= record["severityNumber"] <= 24, where
                for key, pattern in _HEX.items():
                    if key in record:
                        assert pattern.match(record[key]) and set(record[key]) != {"0"}, f"{where}.{key}"
                assert "spanId" not in record or "traceId" in record, f"{where}: spanId without traceId"
                check_any_value(record["body"], f"{where}.body")
                check_attributes(record["attributes"], where)
                records.append(record)
    return records


def attrs(record: dict) -> dict:
    def plain(v):
        (kind, inner), = v.items()
        return [plain(x) for x in inner["values"]] if kind == "arrayValue" else \
            int(inner) if kind == "intValue" else inner
    return {kv["key"]: plain(kv["value"]) for kv in record["attributes"]}


def _run(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args), catch_exceptions=False)


# -- tables -------------------------------------------------------------------------------------------------
@pytest.fixture
def vector_store(db_path: Path) -> Path:
    with Store(db_path) as store:
        build_store(store, per_model=4, not_assessed=("FM-2.4",))
    return db_path


def _present(db_path: Path, set_name: str = "judge-a") -> dict[str, set[str]]:
    with Store(db_path) as store:
        return {a.trace_id: set(a.verdict.present()) for a in store.get_annotations(set_name)}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_table_exports_keep_tri_state_modes(vector_store: Path, tmp_path: Path, fmt: str):
    out = tmp_path / f"vectors.{fmt}"
    result = _run("export", "--to", fmt, str(out), "--db", str(vector_store))
    assert result.exit_code == 0, result.output
    assert "using annotation set judge-a" in result.output  # no --set: the latest, named
    if fmt == "csv":
        df = pd.read_csv(out)
    elif fmt == "parquet":
        table = pq.read_table(out)
        assert str(table.schema.field("FM-1.1").type) == "bool"
        assert table.column("FM-2.4").null_count == table.num_rows
        df = table.to_pandas()
    else:
        df = pd.read_json(out, lines=True, dtype=False)
        first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
        assert first["FM-2.4"] is None and isinstance(first["FM-1.1"], bool)
    assert len(df) == 12
    assert {"id", "model", "task", "success", "score"} <= set(df.columns)
    assert all(m in df.columns and f"{m}@step" in df.columns for m in MODES)
    assert df["FM-2.4"].isna().all()
    assert df[[m for m in MODES if m != "FM-2.4"]].notna().all().all()
    present = _present(vector_store)
    for _, row in df.iterrows():
        flagged = {m for m in MODES if m != "FM-2.4" and str(row[m]).lower() == "true"}
        assert flagged == present[row["id"]]
        for m in flagged:
            assert row[f"{m}@step"] >= 1  # onsets of present modes (evidence steps) survive


def test_unknown_export_format_and_missing_set(vector_store: Path, tmp_path: Path):
    bad = _run("export", "--to", "xlsx", str(tmp_path / "x.xlsx"), "--db", str(vector_store))
    assert bad.exit_code == 2 and "unknown export format 'xlsx'" in bad.output
    missing = _run("export", "--set", "nope", "--to", "csv", str(tmp_path / "x.csv"), "--db", str(vector_store))
    assert missing.exit_code == 2 and "no annotation set 'nope'" in missing.output
    assert not (tmp_path / "x.csv").exists()


# -- OTel ---------------------------------------------------------------------------------------------------
def _verdict(present: dict[str, tuple[float, str, list[int]]]) -> Verdict:
    modes = {}
    for mode_id in MODES:
        if mode_id in present:
            confidence, reason, steps = present[mode_id]
            modes[mode_id] = ModeVerdict(id=mode_id, status=ModeStatus.PRESENT, confidence=confidence, reason=reason,
                                         evidence=[Evidence(step=s, quote="q") for s in steps])
        else:
            modes[mode_id] = ModeVerdict(id=mode_id, status=ModeStatus.ABSENT, confidence=0.1)
    return Verdict(modes=modes)


@pytest.fixture
def otel_store(db_path: Path, tmp_path: Path) -> tuple[Path, int]:
    source = tmp_path / "agent-trace.json"
    source.write_text(json.dumps(otlp_agent_export()), encoding="utf-8")
    [otel_trace] = read_file(source).traces
    tool_step = next(s.index for s in otel_trace.steps if s.kind is StepKind.TOOL_RESULT)
    with Store(db_path) as store:
        build_store(store, per_model=1, set_name="rules")
        store.add_trace(otel_trace)
        store.ensure_set("rules", judge="rules")
        store.save_annotation(Annotation(trace_id=TRACE_ID, set="rules", status=AnnotationStatus.OK,
                                         verdict=_verdict({
                                             "FM-2.5": (0.8, "ignored the tool's timeout", [tool_step]),
                                             "FM-3.3": (0.6, "declared a conclusion without evidence", []),
                                         })))
    return db_path, tool_step


def test_otel_export_validates_and_links_to_the_source_spans(otel_store, tmp_path: Path):
    db_path, _ = otel_store
    out = tmp_path / "labels.otlp.json"
    result = _run("export", "--set", "rules", "--to", "otel", str(out), "--db", str(db_path), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    records = validate_otlp_logs(json.loads(out.read_text(encoding="utf-8")))
    present = _present(db_path, "rules")
    with Store(db_path) as store:
        assessed = {(ann.trace_id, v.id): v.status.value for ann in store.get_annotations("rules")
                    for v in ann.verdict.modes.values() if v.status is not ModeStatus.NOT_ASSESSED}
    # every assessed verdict, absent ones too: absent and not assessed stay apart downstream (issue 14 item 13)
    assert summary["rows"] == len(records) == len(assessed)
    assert all(r["eventName"] == "gen_ai.evaluation.result" for r in records)
    by_trace: dict[str, list[dict]] = {}
    for r in records:
        a = attrs(r)
        mode_id = a["gen_ai.evaluation.name"].removeprefix("mast.")
        assert re.fullmatch(r"FM-\d\.\d", mode_id) and a["mast.mode.name"] == TAXONOMY.mode(mode_id).name
        label = a["gen_ai.evaluation.score.label"]
        assert label == assessed[(a["mast.trace.id"], mode_id)]
        assert (label == "present") == (mode_id in present[a["mast.trace.id"]])
        if label == "present":
            by_trace.setdefault(a["mast.trace.id"], []).append(r)
    linked = {attrs(r)["gen_ai.evaluation.name"]: r for r in by_trace[TRACE_ID]}
    assert set(linked) == {"mast.FM-2.5", "mast.FM-3.3"}
    ignored, unverified = linked["mast.FM-2.5"], linked["mast.FM-3.3"]
    assert ignored["traceId"] == unverified["traceId"] == TRACE_ID
    assert ignored["spanId"] == TOOL  # the evidence step's span
    assert unverified["spanId"] == AGENT  # no evidence: the root span
    a = attrs(ignored)
    assert a["gen_ai.evaluation.score.value"] == 0.8
    assert a["gen_ai.evaluation.explanation"] == "ignored the tool's timeout"
    assert a["mast.annotation_set"] == "rules"
    others = [r for t, rs in by_trace.items() if t != TRACE_ID for r in rs]
    assert others and all("traceId" not in r and "spanId" not in r for r in others)


def test_otel_export_keeps_absent_apart_from_not_assessed(fixtures_dir: Path, tmp_path: Path):
    """Real Who&When and tau-bench runs, rules judge (six modes not assessed): absent verdicts are exported by
    default, not-assessed ones only with --include-not-assessed, and never as absent (issue 14 item 13)."""
    db = str(tmp_path / "m.db")
    assert _run("ingest", str(fixtures_dir / "who_and_when"), str(fixtures_dir / "tau_bench"), "--db", db).exit_code == 0
    assert _run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    with Store(db) as store:
        anns = store.get_annotations("rules")
    verdicts = {(ann.trace_id, m): ann.verdict.modes.get(m) or ModeVerdict(id=m, status=ModeStatus.NOT_ASSESSED)
                for ann in anns for m in TAXONOMY.ids}
    assert any(not ann.verdict.present() for ann in anns)  # a trace with no present mode still exports
    for flag, wanted in (([], {"present", "absent"}), (["--include-not-assessed"], {"present", "absent", "not_assessed"})):
        out = tmp_path / f"otel{len(flag)}.json"
        assert _run("export", "--set", "rules", "--to", "otel", *flag, str(out), "--db", db).exit_code == 0
        records = validate_otlp_logs(json.loads(out.read_text(encoding="utf-8")))
        assert len(records) == sum(1 for v in verdicts.values() if v.status.value in wanted)
        assert {(attrs(r)["mast.trace.id"]) for r in records} == {ann.trace_id for ann in anns}
        for r in records:
            a = attrs(r)
            v = verdicts[(a["mast.trace.id"], a["gen_ai.evaluation.name"].removeprefix("mast."))]
            assert a["gen_ai.evaluation.score.label"] == v.status.value
            if v.status is ModeStatus.NOT_ASSESSED or v.confidence is None:
                assert "gen_ai.evaluation.score.value" not in a
            else:
                assert a["gen_ai.evaluation.score.value"] == pytest.approx(v.confidence)
        labels = {attrs(r)["gen_ai.evaluation.score.label"] for r in records}
        assert labels == {v.status.value for v in verdicts.values()} & wanted and "absent" in labels


def test_validator_rejects_malformed_records():
    good = {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"scope": {"name": "s"}, "logRecords": [
        {"timeUnixNano": "1", "observedTimeUnixNano": "1", "severityNumber": 9, "body": {"stringValue": "x"},
         "attributes": [{"key": "n", "value": {"intValue": "3"}}], "traceId": TRACE_ID}]}]}]}
    assert len(validate_otlp_logs(good)) == 1
    for breaks in ({"timeUnixNano": 1}, {"traceId": TRACE_ID.upper()}, {"spanId": "abc"},
                   {"attributes": [{"key": "n", "value": {"intValue": 3}}]}, {"severity": 9}):
        record = {**good["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0], **breaks}
        bad = {"resourceLogs": [{"resource": {"attributes": []},
                                 "scopeLogs": [{"scope": {"name": "s"}, "logRecords": [record]}]}]}
        with pytest.raises(AssertionError):
            validate_otlp_logs(bad)


def test_parquet_export_of_real_fixtures_with_mixed_metadata_types(fixtures_dir: Path, tmp_path: Path):
    """Who&When's `level` is 2 in one record and "Medium" in another: the Parquet file must still be written
    and open in pyarrow and pandas (mixed metadata columns are written as text)."""
    db = str(tmp_path / "m.db")
    assert _run("ingest", str(fixtures_dir / "who_and_when"), "--db", db).exit_code == 0
    assert _run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    out = tmp_path / "vectors.parquet"
    result = runner.invoke(app, ["export", "--set", "rules", "--to", "parquet", str(out), "--db", db])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 6 and str(table.schema.field("meta.level").type) in ("string", "large_string")
    df = pd.read_parquet(out)
    levels = dict(zip(df["id"], df["meta.level"]))
    assert levels["Algorithm-Generated/1"] == "2" and levels["Algorithm-Generated/102"] == "Medium"
    assert pd.isna(levels["Hand-Crafted/6"])
    assert str(table.schema.field("FM-1.3").type) == "bool"  # uniform columns keep their types


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_table_exports_keep_integers_integers(fixtures_dir: Path, tmp_path: Path, fmt: str):
    """tau-bench's task_id and trial are integers; Who&When traces have neither, so the columns have gaps
    and pandas would write 30.0 (issue 14 item 14)."""
    db = str(tmp_path / "m.db")
    for source in (fixtures_dir / "tau_bench", fixtures_dir / "who_and_when" / "Hand-Crafted"):
        assert _run("ingest", str(source), "--db", db).exit_code == 0
    assert _run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    out = tmp_path / f"v.{fmt}"
    assert _run("export", "--to", fmt, str(out), "--db", db).exit_code == 0
    with Store(db) as store:
        expected = {t.id: (t.metadata.get("task_id"), t.metadata.get("trial")) for t in store.iter_traces()}
    assert any(v == (None, None) for v in expected.values()) and any(isinstance(v[0], int) for v in expected.values())
    if fmt == "csv":
        text = out.read_text(encoding="utf-8")
        rows = {r["id"]: r for r in csv.DictReader(text.splitlines())}
        for trace_id, (task_id, trial) in expected.items():
            assert rows[trace_id]["meta.task_id"] == ("" if task_id is None else str(task_id))
            assert rows[trace_id]["meta.trial"] == ("" if trial is None else str(trial))
        return
    if fmt == "jsonl":
        rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    else:
        table = pq.read_table(out)
        assert str(table.schema.field("meta.task_id").type) == "int64"
        assert str(table.schema.field("FM-1.3@step").type) == "int64"
        rows = {r["id"]: r for r in table.to_pylist()}
    for trace_id, (task_id, trial) in expected.items():
        assert rows[trace_id]["meta.task_id"] == task_id and type(rows[trace_id]["meta.task_id"]) is type(task_id)
        assert rows[trace_id]["meta.trial"] == trial and type(rows[trace_id]["meta.trial"]) is type(trial)
