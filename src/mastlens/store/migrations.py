"""Ordered schema migrations. Append only: never edit a migration that has shipped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mastlens.store.dialect import SQLITE, Dialect


@dataclass(frozen=True)
class PerEngine:
    """A migration whose SQL differs by engine (triggers, functions). A plain string is portable SQL: written
    as SQLite spells it, turned into PostgreSQL DDL by :meth:`Dialect.ddl`."""

    sqlite: str
    postgresql: str


class SchemaTooNew(RuntimeError):
    """The store was written by a newer mastlens than this one."""


MIGRATIONS: list[str | PerEngine] = [
    # 1: traces, annotation sets, per-trace and per-mode annotations, the judge cache
    """
    CREATE TABLE traces (
        id TEXT PRIMARY KEY,
        format TEXT NOT NULL,
        source_path TEXT,
        system TEXT,
        model TEXT,
        task TEXT,
        n_steps INTEGER NOT NULL,
        n_tool_calls INTEGER NOT NULL,
        success INTEGER,
        score REAL,
        hash TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        data TEXT NOT NULL,
        ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX traces_model ON traces(model);
    CREATE TABLE annotation_sets (
        name TEXT PRIMARY KEY,
        judge TEXT NOT NULL,
        model TEXT,
        endpoint_host TEXT,
        prompt_hash TEXT,
        taxonomy_version TEXT,
        params TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE trace_annotations (
        set_name TEXT NOT NULL REFERENCES annotation_sets(name) ON DELETE CASCADE,
        trace_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
        summary TEXT,
        task_completed INTEGER,
        segmented INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        raw_reply TEXT,
        verdict_meta TEXT NOT NULL DEFAULT '{}',
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        latency_s REAL NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        trace_hash TEXT,
        stale INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (set_name, trace_id)
    );
    CREATE TABLE mode_annotations (
        set_name TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        mode_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('present', 'absent', 'not_assessed')),
        confidence REAL,
        reason TEXT NOT NULL DEFAULT '',
        evidence TEXT NOT NULL DEFAULT '[]',
        has_verified_evidence INTEGER NOT NULL DEFAULT 0,
        flip_rate REAL,
        PRIMARY KEY (set_name, trace_id, mode_id),
        FOREIGN KEY (set_name, trace_id) REFERENCES trace_annotations(set_name, trace_id) ON DELETE CASCADE
    );
    CREATE TABLE judge_cache (
        key TEXT PRIMARY KEY,
        response TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    """,
    # fidelity: where the run went wrong (decisive step/agent/reason) and a labelled mode onset
    """
    ALTER TABLE trace_annotations ADD COLUMN decisive_step INTEGER;
    ALTER TABLE trace_annotations ADD COLUMN decisive_agent TEXT;
    ALTER TABLE trace_annotations ADD COLUMN decisive_reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE mode_annotations ADD COLUMN onset_step INTEGER;
    """,
    # run tags (`ingest --tag KEY=VALUE`): per trace, not part of its content (no new version when they change)
    """
    CREATE TABLE trace_tags (
        trace_id TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (trace_id, key)
    );
    CREATE INDEX trace_tags_key ON trace_tags(key, value);
    """,
    # review: a stored queue per (human set, judge set, strategy, seed, sample) and every reviewer decision,
    # appended, never updated. The human set's current labels stay an ordinary annotation set; the trigger
    # records label writes to a `human:*` set that the review app did not make (import-labels) with the value
    # they replaced, so nothing is lost. (The app writes its own decisions and marks its rows review_save.)
    """
    CREATE TABLE review_queues (
        id INTEGER PRIMARY KEY,
        human_set TEXT NOT NULL,
        judge_set TEXT NOT NULL,
        strategy TEXT NOT NULL,
        against_set TEXT NOT NULL DEFAULT '',
        seed INTEGER NOT NULL,
        sample INTEGER NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (human_set, judge_set, strategy, against_set, seed, sample)
    );
    CREATE TABLE review_queue_items (
        queue_id INTEGER NOT NULL REFERENCES review_queues(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        trace_id TEXT NOT NULL,
        why TEXT NOT NULL DEFAULT '',
        -- what the queue page filters on, as the judge set said when the queue was built
        grp TEXT NOT NULL DEFAULT 'unknown',
        outcome TEXT NOT NULL DEFAULT 'unknown',
        judge_present TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (queue_id, position)
    );
    CREATE INDEX review_queue_items_trace ON review_queue_items(queue_id, trace_id);
    CREATE TABLE review_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        set_name TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        mode_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('present', 'absent', 'not_assessed')),
        step INTEGER,
        note TEXT NOT NULL DEFAULT '',
        previous_status TEXT,
        judge_set TEXT,
        judge_status TEXT,
        judge_confidence REAL,
        trace_hash TEXT,
        reviewer TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'review' CHECK (source IN ('review', 'import')),
        decided_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX review_decisions_key ON review_decisions(set_name, trace_id, mode_id, id);
    CREATE TRIGGER review_decisions_from_labels AFTER INSERT ON mode_annotations
    WHEN NEW.set_name LIKE 'human:%' AND NEW.status IS NOT (
        SELECT d.status FROM review_decisions d WHERE d.set_name = NEW.set_name AND d.trace_id = NEW.trace_id
        AND d.mode_id = NEW.mode_id ORDER BY d.id DESC LIMIT 1)
    AND NOT EXISTS (SELECT 1 FROM trace_annotations a WHERE a.set_name = NEW.set_name AND a.trace_id = NEW.trace_id
                    AND json_extract(a.verdict_meta, '$.review_save') IS NOT NULL)
    BEGIN
        INSERT INTO review_decisions (set_name, trace_id, mode_id, status, previous_status, trace_hash, reviewer,
                                      source, note)
        SELECT NEW.set_name, NEW.trace_id, NEW.mode_id, NEW.status,
               (SELECT d.status FROM review_decisions d WHERE d.set_name = NEW.set_name
                AND d.trace_id = NEW.trace_id AND d.mode_id = NEW.mode_id ORDER BY d.id DESC LIMIT 1),
               a.trace_hash,
               COALESCE('import-labels:' || json_extract(a.verdict_meta, '$.labels_file'), 'external write'),
               'import', NEW.reason
        FROM trace_annotations a WHERE a.set_name = NEW.set_name AND a.trace_id = NEW.trace_id;
    END;
    """,
    # the verdict memo: the key under which the LLM judge can reuse a finished verdict (judges/llm/memo.py)
    """
    ALTER TABLE trace_annotations ADD COLUMN memo_key TEXT;
    CREATE INDEX trace_annotations_memo ON trace_annotations(memo_key) WHERE memo_key IS NOT NULL;
    """,
    # provider batch jobs of `annotate --batch` and the requests each carries (store/batches.py); portable SQL,
    # timestamps written by Python
    """
    CREATE TABLE llm_batches (
        job_id TEXT PRIMARY KEY,
        set_name TEXT NOT NULL,
        endpoint_host TEXT NOT NULL,
        round INTEGER NOT NULL,
        status TEXT NOT NULL,
        provider_status TEXT,
        input_file_id TEXT,
        batch_id TEXT,
        output_file_id TEXT,
        error_file_id TEXT,
        lines INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX llm_batches_set ON llm_batches(set_name, status);
    CREATE TABLE llm_batch_lines (
        job_id TEXT NOT NULL REFERENCES llm_batches(job_id) ON DELETE CASCADE,
        custom_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        sample INTEGER NOT NULL,
        window_index INTEGER NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        input_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        PRIMARY KEY (job_id, custom_id, trace_id, sample, window_index)
    );
    CREATE INDEX llm_batch_lines_trace ON llm_batch_lines(trace_id);
    """,
    # leased work (judges/leases.py): one row per (set, trace) a run means to annotate; a worker holds it
    # until expires_at (seconds since 1970 by the database's clock) and marks it done when its verdict is stored
    """
    CREATE TABLE work_leases (
        set_name TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        worker TEXT NOT NULL DEFAULT '',
        expires_at REAL NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (set_name, trace_id)
    );
    CREATE INDEX work_leases_free ON work_leases(set_name, done, expires_at);
    """,
    # work_leases.done = 2: finished with an error or an out-of-date verdict (a later run frees it again);
    # 1 now always means a current ok verdict, so a run's offer never has to look at the annotations
    """
    UPDATE work_leases SET done = 2 WHERE done = 1 AND NOT EXISTS (SELECT 1 FROM trace_annotations a
        WHERE a.set_name = work_leases.set_name AND a.trace_id = work_leases.trace_id
        AND a.status = 'ok' AND a.stale = 0);
    """,
]


# What SQLite has and PostgreSQL lacks, as the readers' queries use it: json_extract, group_concat, and
# SUM over a comparison (SQLite's booleans are integers).
_PG_FUNCTIONS = r"""
CREATE FUNCTION json_extract(doc TEXT, path TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS
$$ SELECT doc::jsonb #>> string_to_array(substr(path, 3), '.') $$;
CREATE FUNCTION mastlens_concat(acc TEXT, item TEXT, sep TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN item IS NULL THEN acc WHEN acc IS NULL THEN item ELSE acc || sep || item END $$;
CREATE AGGREGATE group_concat(TEXT, TEXT) (SFUNC = mastlens_concat, STYPE = TEXT);
CREATE FUNCTION mastlens_count_true(acc BIGINT, item BOOLEAN) RETURNS BIGINT LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT acc + CASE WHEN item THEN 1 ELSE 0 END $$;
CREATE AGGREGATE sum(BOOLEAN) (SFUNC = mastlens_count_true, STYPE = BIGINT, INITCOND = '0');
"""

# migration 4's trigger as PL/pgSQL (a PostgreSQL trigger's WHEN may not hold a subquery)
_PG_REVIEW_TRIGGER = r"""
CREATE FUNCTION review_decisions_from_labels() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_status TEXT;
    ann RECORD;
BEGIN
    IF NEW.set_name NOT LIKE 'human:%' THEN RETURN NULL; END IF;
    SELECT d.status INTO last_status FROM review_decisions d WHERE d.set_name = NEW.set_name
        AND d.trace_id = NEW.trace_id AND d.mode_id = NEW.mode_id ORDER BY d.id DESC LIMIT 1;
    IF NEW.status IS NOT DISTINCT FROM last_status THEN RETURN NULL; END IF;
    SELECT a.trace_hash, a.verdict_meta INTO ann FROM trace_annotations a
        WHERE a.set_name = NEW.set_name AND a.trace_id = NEW.trace_id;
    IF NOT FOUND OR json_extract(ann.verdict_meta, '$.review_save') IS NOT NULL THEN RETURN NULL; END IF;
    INSERT INTO review_decisions (set_name, trace_id, mode_id, status, previous_status, trace_hash, reviewer,
                                  source, note)
    VALUES (NEW.set_name, NEW.trace_id, NEW.mode_id, NEW.status, last_status, ann.trace_hash,
            COALESCE('import-labels:' || json_extract(ann.verdict_meta, '$.labels_file'), 'external write'),
            'import', NEW.reason);
    RETURN NULL;
END $$;
CREATE TRIGGER review_decisions_from_labels AFTER INSERT ON mode_annotations
    FOR EACH ROW EXECUTE FUNCTION review_decisions_from_labels();
"""


def script_for(number: int, dialect: Dialect) -> str:
    """Migration ``number`` (from 1) in the dialect's SQL."""
    migration = MIGRATIONS[number - 1]
    if isinstance(migration, PerEngine):
        return migration.sqlite if dialect is SQLITE else migration.postgresql
    if dialect is SQLITE:
        return migration
    if number == 1:
        return _PG_FUNCTIONS + dialect.ddl(migration)
    if number == 4:  # shipped before PerEngine existed: its tables are portable, its trigger is not
        return dialect.ddl(migration.split("CREATE TRIGGER")[0]) + _PG_REVIEW_TRIGGER
    return dialect.ddl(migration)


def _statements(script: str) -> list[str]:
    """A SQLite script's statements, one by one (executescript would commit the open transaction first)."""
    import sqlite3

    out, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out


def _too_new(found: int) -> SchemaTooNew:
    return SchemaTooNew(f"this store has schema version {found}, newer than this mastlens knows "
                        f"({len(MIGRATIONS)}): upgrade mastlens to use it")


def migrate(conn: Any, dialect: Dialect = SQLITE) -> int:
    """Apply the migrations the database has not seen yet, in order, each recorded in the transaction that
    applies it; two processes starting at once apply each migration once. Returns the schema version."""
    if dialect is SQLITE:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > len(MIGRATIONS):
            raise _too_new(current)
        while current < len(MIGRATIONS):
            with conn:
                conn.execute("BEGIN IMMEDIATE")  # the write lock first: the version read next is the one we extend
                current = conn.execute("PRAGMA user_version").fetchone()[0]
                if current < len(MIGRATIONS):
                    for statement in _statements(script_for(current + 1, dialect)):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {current + 1}")
        return len(MIGRATIONS)
    with conn:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")  # one migrator per schema
        conn.execute("CREATE TABLE IF NOT EXISTS mastlens_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM mastlens_schema").fetchone()
        current = row[0] if row else 0
        if row is None:
            conn.execute("INSERT INTO mastlens_schema (version) VALUES (0)")
        if current > len(MIGRATIONS):
            raise _too_new(current)
        for number in range(current + 1, len(MIGRATIONS) + 1):
            conn.executescript(script_for(number, dialect))
            conn.execute("UPDATE mastlens_schema SET version = ?", (number,))
    return len(MIGRATIONS)
