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
]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations the database has not seen yet; return the schema version."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
        with conn:
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)
