"""A PostgreSQL connection (psycopg 3) that the store uses the way it uses :mod:`sqlite3`.

The store and its readers write their queries once, with SQLite's ``?`` and ``:name`` placeholders, and
read rows by position or column name. :class:`PgConnection` offers the same small surface
(``execute``, ``executemany``, ``with conn:`` as one transaction, ``close``) over psycopg, translating the
placeholders (cached per query text) and returning rows that index both ways.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

URL_SCHEMES = ("postgresql://", "postgres://")

# a string literal, a quoted identifier, a cast (::), a named or positional placeholder, or a percent sign
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|:[A-Za-z_]\w*|\?|%")


class StoreConnectionError(RuntimeError):
    """The store's server could not be reached or refused the login (the message names no secret)."""


def is_server_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password (safe for messages, logs, reports and --json)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc[-1]}"))


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite-style placeholders as psycopg's (``?`` -> ``%s``, ``:name`` -> ``%(name)s``, ``%`` -> ``%%``)."""

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok[0] == "'":
            return tok.replace("%", "%%")
        if tok[0] == '"' or tok == "::":
            return tok
        if tok == "?":
            return "%s"
        if tok == "%":
            return "%%"
        return f"%({tok[1:]})s"

    sql = _TOKEN.sub(sub, sql)
    return "BEGIN" if sql.strip().upper() == "BEGIN IMMEDIATE" else sql


class Row(tuple):
    """A result row read by position (``row[0]``) or by column name (``row["id"]``, ``dict(row)``)."""

    _names: tuple[str, ...] = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self._names


def _row_factory(cursor: Any) -> type[Row]:
    names = tuple(c.name for c in cursor.description or ())
    return type("Row", (Row,), {"_names": names, "_index": {n: i for i, n in enumerate(names)}})


class PgConnection:
    """One psycopg connection in autocommit mode: a statement outside ``with conn:`` commits on its own,
    as with :mod:`sqlite3` opened with ``isolation_level=None``."""

    def __init__(self, url: str):
        import psycopg
        from psycopg.types.numeric import FloatLoader

        try:
            self._pg = psycopg.connect(url, autocommit=True, row_factory=_row_factory, connect_timeout=10)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else type(exc).__name__
            raise StoreConnectionError(f"cannot open the store {redact(url)}: {reason.replace(url, redact(url))}") \
                from None
        self._pg.adapters.register_loader("numeric", FloatLoader)  # SUM/AVG as floats, as SQLite gives them
        self._depth = 0

    def execute(self, sql: str, params: Any = ()) -> Any:
        cur = self._pg.cursor()
        cur.execute(translate(sql), params)  # never None: psycopg then reads %% as %
        return cur

    def executemany(self, sql: str, rows: Any) -> Any:
        cur = self._pg.cursor()
        rows = list(rows)
        if rows:
            cur.executemany(translate(sql), rows)
        return cur

    def executescript(self, script: str) -> None:
        self._pg.execute(script)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self._pg.info.transaction_status != TransactionStatus.IDLE

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self.in_transaction:
            self._pg.execute("ROLLBACK" if exc_type is not None else "COMMIT")

    def close(self) -> None:
        self._pg.close()
