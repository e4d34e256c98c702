"""Walk files and folders, pick an adapter for each, and read traces with per-file errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, TraceLabels, one_line, read_head, trace_suffix
from mastlens.adapters.jsonstream import BadLine, iter_records
from mastlens.adapters.registry import all_adapters, detect_dir, detect_file, get_adapter
from mastlens.trace import SuccessRule, Trace

WALKED_SUFFIXES = {".json", ".jsonl", ".ndjson", ".eval"}
TEXT_SUFFIXES = {".txt", ".log"}
UNRECOGNISED = "no trace format recognised"


@dataclass
class FileFailure:
    path: str
    reason: str
    line: int | None = None
    format: str | None = None
    record: int | None = None

    def describe(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        where += f" (record {self.record})" if self.record is not None else ""
        fmt = f" [read as {self.format}]" if self.format else ""
        return f"{where}{fmt}: {self.reason}"


@dataclass
class FileSkip:
    path: str
    reason: str


@dataclass
class FileResult:
    """The traces read from one file or folder, and what went wrong."""

    path: str
    format: str | None
    traces: list[Trace] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    labels: list[TraceLabels] = field(default_factory=list)


def _read_with(adapter, path: Path, ctx: ReadContext) -> FileResult:
    result = FileResult(str(path), adapter.name)
    ctx.issues.clear()
    ctx.notes.clear()
    ctx.labels.clear()
    try:
        for trace in adapter.read(path, ctx):
            result.traces.append(trace)
    except AdapterError as exc:
        result.failures.append(FileFailure(str(path), exc.reason, exc.line, adapter.name, exc.record))
    except (OSError, MemoryError) as exc:
        result.failures.append(FileFailure(str(path), f"cannot read: {exc}", None, adapter.name))
    except Exception as exc:  # odd content or an adapter bug must not stop the batch; say what it was
        kind = "wrong schema" if type(exc).__name__ == "ValidationError" else f"unexpected {type(exc).__name__}"
        result.failures.append(FileFailure(str(path), f"{kind}: {one_line(exc)}", None, adapter.name))
    for issue in ctx.issues:
        result.failures.append(FileFailure(str(path), issue.reason, issue.line, adapter.name, issue.record))
    result.notes.extend(ctx.notes)
    result.labels.extend(ctx.labels)
    return result


def _sniff_failure(path: Path) -> FileFailure | None:
    """Explain why no adapter took a file: empty, binary or unknown."""
    try:
        head = read_head(path)
    except OSError as exc:
        return FileFailure(str(path), f"cannot read: {exc.strerror or exc}")
    if not head.strip():
        return FileFailure(str(path), "empty file")
    if b"\x00" in head[:8192]:
        return FileFailure(str(path), "binary file, not a trace")
    return FileFailure(str(path), "unknown format: no adapter recognizes this file")


def _parse_problem(path: Path) -> FileFailure | None:
    """Why a file is not valid JSON / JSONL (read record by record), or None when it parses."""
    try:
        for line, index, value in iter_records(path):
            if isinstance(value, BadLine):
                return FileFailure(str(path), value.reason, line, None, index)
    except AdapterError as exc:
        return FileFailure(str(path), exc.reason, exc.line, None, exc.record)
    except OSError as exc:
        return FileFailure(str(path), f"cannot read: {exc.strerror or exc}")
    return None


def _read_walked(path: Path, fmt: str, ctx: ReadContext) -> FileResult | FileSkip:
    """A file met in a folder walk: like :func:`read_file`, except that a JSON file which parses but
    which no adapter recognises (a benchmark's ground truth, a config) is skipped, not failed."""
    result = read_file(path, fmt, ctx)
    unknown = result.format is None and [f.reason for f in result.failures] == [
        "unknown format: no adapter recognizes this file"]
    if not unknown or trace_suffix(path) == ".eval":
        return result
    problem = _parse_problem(path)
    if problem is None:
        return FileSkip(str(path), UNRECOGNISED)
    problem.reason = f"not a trace and not valid JSON: {problem.reason}"
    result.failures = [problem]
    return result


def read_file(path: Path, fmt: str = "auto", ctx: ReadContext | None = None) -> FileResult:
    """Read one file with the named format, or the sniffed one."""
    ctx = ctx or ReadContext()
    if fmt != "auto":
        adapter = get_adapter(fmt)
        if path.is_dir() and not adapter.reads_dirs:
            return FileResult(str(path), fmt, failures=[FileFailure(str(path), "is a folder", None, fmt)])
        return _read_with(adapter, path, ctx)
    if path.is_dir():
        adapter = detect_dir(path)
    else:
        try:
            adapter = detect_file(path)
        except OSError as exc:
            return FileResult(str(path), None, failures=[FileFailure(str(path), f"cannot read: {exc.strerror or exc}")])
    if adapter is None:
        failure = _sniff_failure(path)
        return FileResult(str(path), None, failures=[failure] if failure else [])
    return _read_with(adapter, path, ctx)


def walk(
    paths: list[Path], fmt: str = "auto", success_rule: SuccessRule | None = None, group_spans_by: str | None = None
) -> Iterator[FileResult | FileSkip]:
    """Read every path: files named explicitly are always tried; folders are walked recursively,
    reading trace-like files (.json, .jsonl, .ndjson, .eval, also gzip-compressed as .json.gz...;
    .txt/.log only with format text) and reporting the rest as skipped, as well as JSON files that
    parse but are in no trace format. A folder an adapter claims (e.g. an ITBench run) is read whole.
    Files of a format that joins files (OTel traces and logs exports) are read together, last, so a
    traces file and a logs file given in one call make one set of traces."""
    rule = success_rule or SuccessRule.parse(None)
    seen: set[Path] = set()  # folders already walked (a symlinked folder, or a loop, is read once)
    joined: list[tuple[Path, object]] = []  # (file, adapter) read together at the end
    companions = _companions(paths)
    for top in paths:
        if not top.exists():
            yield FileResult(str(top), None, failures=[FileFailure(str(top), "no such file or folder")])
            continue
        if top in companions:
            yield FileSkip(str(top), companions[top])
            continue
        root = top if top.is_dir() else top.parent
        ctx = ReadContext(success_rule=rule, root=root, group_spans_by=group_spans_by, companions=list(companions))
        if top.is_file():
            if not _joins(top, fmt, joined):
                yield read_file(top, fmt, ctx)
            continue
        yield from _walk_dir(top, fmt, ctx, seen, joined)
    if joined:
        yield from _read_joined(joined, ReadContext(success_rule=rule, group_spans_by=group_spans_by,
                                                    companions=list(companions)))


def _companions(paths: list[Path]) -> dict[Path, str]:
    """Files named explicitly that an adapter reads beside the other inputs' traces, with why."""
    askers = [a for a in all_adapters() if type(a).companion_reason is not Adapter.companion_reason]
    found: dict[Path, str] = {}
    for path in paths:
        if not askers or not path.is_file():
            continue
        for adapter in askers:
            reason = _safe_reason(adapter, path)
            if reason:
                found[path] = reason
                break
    return found


def _safe_reason(adapter: Adapter, path: Path) -> str | None:
    try:
        return adapter.companion_reason(path)
    except (OSError, ValueError, AdapterError):
        return None


def _joins(path: Path, fmt: str, joined: list[tuple[Path, object]]) -> bool:
    """Set aside a file whose adapter reads several files together (``read_joined``)."""
    try:
        adapter = get_adapter(fmt) if fmt != "auto" else detect_file(path)
    except (OSError, KeyError):
        return False
    if adapter is None or not hasattr(adapter, "read_joined"):
        return False
    joined.append((path, adapter))
    return True


def _read_joined(files: list[tuple[Path, object]], ctx: ReadContext) -> Iterator[FileResult]:
    by_adapter: dict[str, list[tuple[Path, object]]] = {}
    for path, adapter in files:
        by_adapter.setdefault(adapter.name, []).append((path, adapter))
    for entries in by_adapter.values():
        adapter = entries[0][1]
        results = {str(p): FileResult(str(p), adapter.name) for p, _ in entries}
        parts = []
        for path, _ in entries:
            try:
                parts.append((path, *adapter.load(path)))
            except AdapterError as exc:
                results[str(path)].failures.append(FileFailure(str(path), exc.reason, exc.line, adapter.name,
                                                               exc.record))
            except (OSError, MemoryError) as exc:
                results[str(path)].failures.append(FileFailure(str(path), f"cannot read: {exc}", None, adapter.name))
        ctx.notes.clear()
        if parts:
            try:
                for path, trace in adapter.read_joined(parts, ctx):
                    results[str(path)].traces.append(trace)
            except Exception as exc:  # an adapter bug must not stop the batch; say what it was
                first = str(parts[0][0])
                results[first].failures.append(FileFailure(first, f"unexpected {type(exc).__name__}: "
                                                                   f"{one_line(exc)}", None, adapter.name))
            results[str(parts[0][0])].notes.extend(ctx.notes)
        yield from results.values()


def _walk_dir(folder: Path, fmt: str, ctx: ReadContext, seen: set[Path],
              joined: list[tuple[Path, object]]) -> Iterator[FileResult | FileSkip]:
    real = folder.resolve()
    if real in seen:
        yield FileSkip(str(folder), "folder already read (a link to it, or given twice)")
        return
    seen.add(real)
    claimed = detect_dir(folder) if fmt == "auto" or fmt in _folder_formats() else None
    if claimed is not None and (fmt == "auto" or fmt == claimed.name):
        yield _read_with(claimed, folder, ctx)
        return
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        yield FileResult(str(folder), None, failures=[FileFailure(str(folder), f"cannot list: {exc.strerror}")])
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk_dir(entry, fmt, ctx, seen, joined)
            continue
        suffix = trace_suffix(entry)
        if suffix in _walked_suffixes() or (fmt == "text" and suffix in TEXT_SUFFIXES):
            side = _side_file_reason(entry) if fmt == "auto" or fmt in _folder_formats() else None
            if side:
                yield FileSkip(str(entry), side)
            elif not _joins(entry, fmt, joined):
                yield _read_walked(entry, fmt, ctx)
        else:
            shown = "".join(entry.suffixes[-2:]).lower() if entry.suffix.lower() == ".gz" else suffix
            yield FileSkip(str(entry), f"not a trace file type ({shown or 'no extension'})")


def _walked_suffixes() -> set[str]:
    """What a folder walk reads: the usual trace files and every file type an adapter names (``.traj``)."""
    return WALKED_SUFFIXES | {ext for a in all_adapters() if a.name != "text" for ext in a.extensions}


def _folder_formats() -> set[str]:
    return {a.name for a in all_adapters() if a.reads_dirs}


def _side_file_reason(path: Path) -> str | None:
    """Why a folder walk skips a file that a folder format reads with its runs (e.g. ITBench scores)."""
    for adapter in all_adapters():
        reason = getattr(adapter, "side_file_reason", None) if adapter.reads_dirs else None
        why = reason(path) if reason is not None else None
        if why:
            return why
    return None


def load_traces(path: str | Path, fmt: str = "auto", success_rule: str | None = None,
                group_spans_by: str | None = None) -> list[Trace]:
    """Read every trace under a path (file or folder) without a store. Errors are skipped;
    use :func:`walk` to see them."""
    rule = SuccessRule.parse(success_rule)
    out: list[Trace] = []
    for result in walk([Path(path)], fmt, rule, group_spans_by):
        if isinstance(result, FileResult):
            out.extend(result.traces)
    return out
