"""Ordered schema migrations. Append only: never edit a migration that has shipped."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
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
]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations the database has not seen yet; return the schema version."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
        with conn:
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)
