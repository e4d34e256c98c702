"""A watch as continuous collection: each finished run is ingested and annotated by the rules judge."""

from __future__ import annotations

from pathlib import Path

from mastlens.judges.rules import RulesConfig


def store_run(db: Path, path: Path, fmt: str, config: RulesConfig) -> str:
    """Ingest ``path`` into the store at ``db`` and annotate its traces (rules judge, set "rules");
    returns what was done, in words. A file stored before with the same content is not stored twice."""
    from mastlens.judges.rules import RulesJudge
    from mastlens.judges.runner import annotate_traces
    from mastlens.store import Store
    from mastlens.store.ingest import ingest

    store = Store(db)
    try:
        report = ingest([path], store, fmt=fmt)
        if not report.trace_ids:
            reasons = "; ".join(f.describe() for f in report.failed) or "no trace read"
            return f"{path}: nothing stored ({reasons})"
        summary = annotate_traces(store, RulesJudge(config), trace_ids=report.trace_ids)
        return f"{path}: stored {len(report.trace_ids)} trace(s) in {db}, {summary.annotated} annotated (set rules)"
    finally:
        store.close()
