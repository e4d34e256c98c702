"""`export --to parquet DIR` writes a hive-partitioned dataset; `stats --from` / `report --from` compute from
it through DuckDB the same figures as from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pads
import pytest
from _report_data import add_reference_set, build_store
from conftest import EXAMPLES
from typer.testing import CliRunner

from mastlens.analysis.parquet_source import vectors_from_parquet
from mastlens.analysis.vectors import failure_vectors
from mastlens.cli.app import app
from mastlens.store import Store

runner = CliRunner()


def _run(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args), catch_exceptions=False)


def _stats(*args: str) -> dict:
    result = _run("stats", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def examples_db(tmp_path_factory) -> Path:
    """The bundled examples, judged by the rules (real metadata, onsets, not-assessed modes), two runs tagged."""
    db = tmp_path_factory.mktemp("examples") / "m.db"
    assert _run("ingest", str(EXAMPLES / "chat"), "--tag", "run=chat", "--db", str(db)).exit_code == 0
    assert _run("ingest", str(EXAMPLES / "itbench"), "--tag", "run=itbench", "--db", str(db)).exit_code == 0
    assert _run("annotate", "--judge", "rules", "--db", str(db)).exit_code == 0
    return db


@pytest.mark.parametrize("group_by", ["model", "run", "task", "diagnosis_status"])
def test_same_statistics_from_the_store_and_from_the_exported_folder(examples_db, tmp_path, group_by):
    folder = tmp_path / "vectors"
    exported = _run("export", "--to", "parquet", str(folder), "--db", str(examples_db), "--json")
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["format"] == "parquet dataset"
    from_store = _stats("--group-by", group_by, "--db", str(examples_db))
    assert from_store["n_traces"] > 50 and len(from_store["groups"]) >= 2
    assert _stats("--group-by", group_by, "--from", str(folder)) == from_store
    assert _stats("--group-by", group_by, "--from", f"{folder}/**/*.parquet") == from_store  # a glob too


def test_the_frame_read_back_is_the_store_frame(examples_db, tmp_path):
    folder = tmp_path / "vectors"
    assert _run("export", "--to", "parquet", str(folder), "--db", str(examples_db)).exit_code == 0
    with Store(examples_db) as store:
        expected = failure_vectors(store, "rules")
    got = vectors_from_parquet(folder, group_by="run")
    columns = list(got.columns)
    assert "tag.run" in columns and not any(c.startswith("meta.") for c in columns)  # only the group key's column
    pd.testing.assert_frame_equal(got, expected[columns], check_dtype=True)
    assert got.attrs["excluded"] == expected.attrs["excluded"] and got.attrs["set"] == "rules"


def test_the_layout_is_hive_partitioned_and_readable_as_is(tmp_path, db_path):
    with Store(db_path) as store:
        ids = build_store(store, per_model=6)
        add_reference_set(store, ids)
    folder = tmp_path / "vectors"
    for set_name in ("judge-a", "human"):
        assert _run("export", "--to", "parquet", str(folder), "--set", set_name, "--db", str(db_path)).exit_code == 0
    files = sorted(p.relative_to(folder) for p in folder.rglob("*.parquet"))
    assert {p.parts[0] for p in files} == {"set_key=judge-a", "set_key=human"}
    assert all(p.parts[1].startswith("model_key=") and p.parts[2].startswith("ingest_day=") for p in files)
    # pyarrow (and so pandas, Spark, Trino) reads the folder with its partition keys, no mastlens needed
    table = pads.dataset(folder, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 2 * len(ids)
    assert set(table.column("set").to_pylist()) == {"judge-a", "human"}
    assert {"set_key", "model_key", "ingest_day", "FM-1.1", "FM-1.1@step"} <= set(table.column_names)
    manifest = json.loads((folder / "_mastlens.json").read_text(encoding="utf-8"))
    assert set(manifest["sets"]) == {"judge-a", "human"} and manifest["sets"]["human"]["rows"] == len(ids)
    # exporting a set again replaces its partitions, it does not add to them
    assert _run("export", "--to", "parquet", str(folder), "--set", "human", "--db", str(db_path)).exit_code == 0
    assert pads.dataset(folder, format="parquet", partitioning="hive").count_rows() == 2 * len(ids)
    # two sets in the folder: --set picks one, and each gives its store figures
    several = _run("stats", "--from", str(folder))
    assert several.exit_code == 2 and "several sets (human, judge-a)" in several.output
    for set_name in ("judge-a", "human"):
        assert _stats("--from", str(folder), "--set", set_name) == _stats("--set", set_name, "--db", str(db_path))


def test_report_from_the_folder(examples_db, tmp_path):
    folder = tmp_path / "vectors"
    assert _run("export", "--to", "parquet", str(folder), "--db", str(examples_db)).exit_code == 0
    stored_md, parquet_md = tmp_path / "store.md", tmp_path / "parquet.md"
    for source, md in ((["--db", str(examples_db)], stored_md),
                       (["--from", str(folder), "--db", str(examples_db)], parquet_md)):
        result = _run("report", *source, "-o", str(tmp_path / "r.html"), "--md", str(md))
        assert result.exit_code == 0, result.output
    assert parquet_md.read_text(encoding="utf-8") == stored_md.read_text(encoding="utf-8")
    alone = _run("report", "--from", str(folder), "--db", str(tmp_path / "none.db"), "-o", str(tmp_path / "a.html"))
    assert alone.exit_code == 0 and "no drill-downs" in alone.output
    html = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert 'id="signature"' in html and 'class="too-few' not in html  # every assessed cell has a prevalence


def test_bad_sources_are_one_clear_error(tmp_path, examples_db):
    missing = _run("stats", "--from", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no Parquet file there" in missing.output
    folder = tmp_path / "vectors"
    assert _run("export", "--to", "parquet", str(folder), "--db", str(examples_db)).exit_code == 0
    for args, words in ((["--set", "nope"], "no set 'nope' in the dataset (sets there: rules)"),
                        (["--group-by", "nope"], "cannot group by 'nope'"),
                        (["--success", "score>0"], "applied at export"),
                        (["--reference", "human"], "reference labels are in the store")):
        result = _run("stats", "--from", str(folder), *args)
        assert result.exit_code == 2 and words in " ".join(result.output.split()), (args, result.output)
    (folder / "_mastlens.json").write_text("{not json", encoding="utf-8")
    broken = _run("stats", "--from", str(folder))
    assert broken.exit_code == 2 and "not a mastlens dataset manifest" in broken.output
    a_file = tmp_path / "plain"
    a_file.write_text("x", encoding="utf-8")
    onto = _run("export", "--to", "parquet", str(a_file), "--db", str(examples_db))
    assert onto.exit_code == 2 and "a Parquet dataset is a folder" in onto.output
