"""The store on its two engines: migrations (ordered, once, safe when several processes open a new store at
once, refused when newer), the SQL dialect layer, leases, and the one-line errors of a bad server URL."""

from __future__ import annotations

import json
import threading

import pytest
from judge_helpers import fill
from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.store import Store
from mastlens.store.migrations import MIGRATIONS, SchemaTooNew
from mastlens.store.pg import redact, translate


def test_placeholders_become_psycopg_ones_and_literal_percents_stay_literal():
    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE 'human:%'") == \
        "SELECT * FROM t WHERE a = %s AND b LIKE 'human:%%'"
    assert translate("SELECT x::int FROM q WHERE id = :queue AND s = 'a:b?'") == \
        "SELECT x::int FROM q WHERE id = %(queue)s AND s = 'a:b?'"
    assert translate("BEGIN IMMEDIATE") == "BEGIN"


def test_a_password_never_shows_in_a_printed_url():
    assert redact("postgresql://ann:s3cret@db:5432/ml") == "postgresql://ann:***@db:5432/ml"
    assert redact("postgresql://ann@db/ml") == "postgresql://ann@db/ml"


def test_every_migration_applies_once_when_several_processes_open_a_new_store_at_once(store_location):
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            with Store(store_location) as s:
                s.count_traces()
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(store_location) as s:
        if s.dialect.name == "sqlite":
            version = s.conn.execute("PRAGMA user_version").fetchone()[0]
        else:
            assert s.conn.execute("SELECT COUNT(*) FROM mastlens_schema").fetchone()[0] == 1
            version = s.conn.execute("SELECT version FROM mastlens_schema").fetchone()[0]
    assert version == len(MIGRATIONS)


def test_a_store_of_a_newer_schema_is_refused_in_one_line(store, store_location):
    newer = len(MIGRATIONS) + 1
    if store.dialect.name == "sqlite":
        store.conn.execute(f"PRAGMA user_version = {newer}")
    else:
        store.conn.execute("UPDATE mastlens_schema SET version = ?", (newer,))
    store.close()
    with pytest.raises(SchemaTooNew, match=f"schema version {newer}, newer than this mastlens"):
        Store(store_location)
    res = CliRunner().invoke(app, ["traces", "--db", store_location])
    assert res.exit_code == 2
    assert "newer than this mastlens" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_an_unreachable_server_is_one_line_without_the_password():
    url = "postgresql://ann:s3cret-pw@127.0.0.1:1/ml"
    res = CliRunner().invoke(app, ["traces", "--db", url])
    assert res.exit_code == 2
    assert "cannot open the store postgresql://ann:***@127.0.0.1:1/ml" in res.stderr
    assert "s3cret-pw" not in res.stderr + res.stdout


def test_same_commands_same_results_on_a_server_url(store, store_location):
    fill(store, 5)
    runner = CliRunner()
    res = runner.invoke(app, ["annotate", "--judge", "rules", "--json", "--db", store_location])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["annotated"] == 5
    listed = runner.invoke(app, ["traces", "--json", "--db", store_location])
    assert listed.exit_code == 0, listed.stderr
    assert [t["id"] for t in json.loads(listed.stdout)] == sorted(store.trace_hashes())


def test_leases_are_claimed_once_expire_and_finish(store):
    ids = fill(store, 6)
    store.ensure_set("s", judge="rules")
    store.offer_work("s", ids)
    first, recovered = store.claim_work("s", 4, "worker-a", 0.3)
    assert len(first) == 4 and recovered == 0
    with Store(store.location) as other:
        other.offer_work("s", ids)  # a second worker joining: the held leases stay worker-a's
        second, _ = other.claim_work("s", 10, "worker-b", 30)
        assert sorted(second) == sorted(set(ids) - set(first))
        assert other.claim_work("s", 10, "worker-b", 30) == ([], 0)
        import time

        time.sleep(0.4)  # worker-a's leases end (by the database's clock) and go to whoever claims next
        other.offer_work("s", first)
        taken, recovered = other.claim_work("s", 10, "worker-b", 30)
        assert sorted(taken) == sorted(first) and recovered == 4
        other.finish_leases("s", taken + second, "worker-b")
        assert other.pending_work("s") == (0, 0.0)
    assert store.release_leases("s", "worker-a") == 0  # nothing of worker-a's is left unfinished


def test_two_processes_ingesting_the_same_files_at_once_store_each_trace_once(store, store_location):
    import subprocess
    import sys

    from conftest import EXAMPLES

    cmd = [sys.executable, "-c", "from mastlens.cli.app import main; main()", "ingest", str(EXAMPLES / "itbench"),
           "--json", "--db", store_location]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    reports = [json.loads(o[0]) for o in outs]
    total = store.count_traces()
    assert total > 0
    # every trace was inserted by exactly one of the two; the other found it unchanged
    assert sum(r["ingested"] for r in reports) == total
    assert all(r["ingested"] + r["skipped_duplicates"] == total for r in reports)
