"""The adapter protocol: each input format is a small module with ``sniff`` and ``read``.

An adapter looks at the first bytes of a file (``sniff``) before it commits to reading it,
the way Inspect's log readers do. Folder formats (an ITBench run folder, a Harbor trial)
claim a directory with ``sniff_dir`` and then read it whole.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from mastlens.trace import SuccessRule, Trace

HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
COMPRESSED_SUFFIXES = (".gz",)


class AdapterError(Exception):
    """A file (or one record of it) that cannot be read, with where and why."""

    def __init__(self, reason: str, *, line: int | None = None, record: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.record = record


@dataclass
class RecordIssue:
    """A record that could not be read while the rest of the file was."""

    reason: str
    line: int | None = None
    record: int | None = None


@dataclass
class TraceLabels:
    """Reference labels a source file carries for one of its traces (e.g. MAST-Data's human labels).

    They are not trace content (not hashed, not in the trace body): ingest writes them, after the trace
    is stored, as annotation set ``set`` (judge "labels") on the trace's stored id.
    """

    trace_id: str  # the id the adapter gave the trace (ingest maps it to the stored, possibly renamed, id)
    set: str
    flags: dict[str, bool | None]  # mode id -> present / absent / None = not assessed; missing = not assessed
    metadata: dict[str, Any] = field(default_factory=dict)
    # where the labeller says the run went wrong (Who&When), and whether it succeeded
    decisive_step: int | None = None
    decisive_agent: str | None = None
    decisive_reason: str = ""
    task_completed: bool | None = None


@dataclass
class ReadContext:
    """What an adapter may need beyond the path: the success rule, the root of a folder walk."""

    success_rule: SuccessRule = field(default_factory=lambda: SuccessRule.parse(None))
    root: Path | None = None
    issues: list[RecordIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    labels: list[TraceLabels] = field(default_factory=list)
    #: the span attribute that joins spans into runs (``ingest --group-spans-by``), for span formats
    group_spans_by: str | None = None
    #: files given in the same ingest that an adapter reads beside its traces (e.g. a SWE-bench
    #: evaluation report for a folder of trajectories); see ``Adapter.companion_reason``
    companions: list[Path] = field(default_factory=list)

    def record_issue(self, reason: str, *, line: int | None = None, record: int | None = None) -> None:
        self.issues.append(RecordIssue(reason, line, record))


class Adapter:
    """Base class of input formats. Subclasses set ``name`` and implement ``sniff`` and ``read``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: what ``sniff`` looks for, shown by ``mastlens formats``
    detects: ClassVar[str] = ""
    #: where the format keeps a run's outcome (success, score, metrics), shown by ``mastlens formats``;
    #: empty when it carries none
    outcome: ClassVar[str] = ""
    #: lower runs first; specific formats before generic ones
    priority: ClassVar[int] = 50
    extensions: ClassVar[tuple[str, ...]] = (".json", ".jsonl", ".ndjson")
    #: folder formats set this and implement ``sniff_dir``
    reads_dirs: ClassVar[bool] = False

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def sniff_dir(self, path: Path) -> bool:
        return False

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        raise NotImplementedError

    def companion_reason(self, path: Path) -> str | None:
        """Why a file given to ingest is no trace but read beside the traces of the other inputs (then it is
        passed to every read as ``ReadContext.companions``), or None. Only asked of files named explicitly."""
        return None


@contextmanager
def open_trace(path: Path) -> Iterator[IO[bytes]]:
    """The one way adapters read a file's bytes: gzip data (recognised by its magic bytes, whatever the
    name) is decompressed on the fly and a leading UTF-8 byte order mark is dropped. Damaged or cut
    compressed data raises :class:`AdapterError`."""
    try:
        raw = path.open("rb")
        if raw.peek(2)[:2] == GZIP_MAGIC:
            raw.close()
            raw = gzip.open(path, "rb")
        with raw as fh:
            if fh.peek(3)[:3] == UTF8_BOM:
                fh.read(3)
            yield fh
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise AdapterError(f"damaged or truncated gzip data ({exc})") from None


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes a reader sees (decompressed, without a BOM), for sniffing. Of damaged
    compressed data, what decompresses before the damage."""
    chunks: list[bytes] = []
    got = 0
    try:
        with open_trace(path) as fh:
            while got < size:
                try:
                    chunk = fh.read1(min(8192, size - got))  # what is there (before any damage)
                except (EOFError, zlib.error):
                    break
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
    except AdapterError:
        pass
    return b"".join(chunks)


def trace_suffix(path: Path) -> str:
    """A file's format suffix, lower case, looking through a compression suffix:
    ``run.jsonl.gz`` -> ``.jsonl``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        return suffixes[-2] if len(suffixes) > 1 else ""
    return path.suffix.lower()


def plain_name(path: Path) -> str:
    """A file's name without a compression suffix (``run.jsonl.gz`` -> ``run.jsonl``): ids made from
    names are the same whether or not the file is compressed."""
    name = path.name
    for suffix in COMPRESSED_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def trace_stem(path: Path) -> str:
    """:func:`plain_name` without its format suffix (``run.jsonl.gz`` -> ``run``)."""
    return Path(plain_name(path)).stem


def head_text(head: bytes) -> str:
    """Decode a file head for sniffing (invalid UTF-8 in a cut multibyte char is ignored)."""
    return head.decode("utf-8", errors="ignore").lstrip("\ufeff").lstrip()


def first_json_line(head: bytes) -> dict[str, Any] | None:
    """The first line of a JSONL head as a dict, if it parses (long lines may be cut: then None)."""
    text = head_text(head)
    line = text.split("\n", 1)[0]
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def load_json(path: Path) -> Any:
    """Parse a whole JSON file, turning decode errors into an :class:`AdapterError` with a line."""
    with open_trace(path) as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise AdapterError(f"invalid UTF-8 at byte {exc.start}", line=line) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AdapterError(f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None


def one_line(exc: Exception) -> str:
    """An exception as one line: a model validation error names its first field and problem
    ("model: Input should be a valid string, got 1"), anything else loses its line breaks."""
    errors = getattr(exc, "errors", None)
    if callable(errors) and type(exc).__name__ == "ValidationError":
        first, *rest = errors()
        where = ".".join(str(p) for p in first["loc"])
        got = repr(first.get("input"))
        more = f" (and {len(rest)} more)" if rest else ""
        return f"{where}: {first['msg']}, got {got[:60]}{more}"
    return " ".join(str(exc).split())


def json_reason(exc: Exception) -> str:
    """A JSON decoder's message without its dangling "at" (the line is reported beside it):
    "Unterminated string starting at" -> "Unterminated string"."""
    msg = str(getattr(exc, "msg", exc))
    for tail in (" starting at", " at"):
        if msg.endswith(tail):
            return msg[: -len(tail)]
    return msg


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each non-blank line, streaming; bad lines raise AdapterError."""
    with open_trace(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise AdapterError(f"invalid UTF-8 at byte {exc.start} of the line", line=lineno) from None
            try:
                yield lineno, json.loads(text)
            except json.JSONDecodeError as exc:
                cut = " (truncated line?)" if not raw.endswith(b"\n") else ""
                raise AdapterError(f"invalid JSON: {json_reason(exc)}{cut}", line=lineno) from None
