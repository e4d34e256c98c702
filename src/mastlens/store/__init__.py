"""The store (SQLite by default, PostgreSQL by URL) and ingest."""

from mastlens.store.db import AnnotationSetInfo, Store, StoreResult, TraceRow, default_db_path, default_location

__all__ = ["AnnotationSetInfo", "Store", "StoreResult", "TraceRow", "default_db_path", "default_location"]
