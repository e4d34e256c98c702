"""What a watch remembers across restarts: per file, how far it was read (offset and inode) and, per run,
which alerts were raised and whether the run was finished. One JSON file, replaced atomically."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunState:
    alerted: dict[str, int | None] = field(default_factory=dict)
    finished: bool = False


@dataclass
class FileState:
    offset: int = 0
    inode: int | None = None
    format: str | None = None
    lines: int = 0
    runs: dict[str, RunState] = field(default_factory=dict)


class WatchState:
    """The state file of a watch (``path`` None: kept in memory only)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.files: dict[str, FileState] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable watch state ({exc}); move it away to start over") from None
        for name, data in (raw.get("files") or {}).items():
            runs = {rid: RunState(**r) for rid, r in (data.pop("runs", None) or {}).items()}
            self.files[name] = FileState(**data, runs=runs)

    def file(self, path: Path) -> FileState:
        return self.files.setdefault(str(path), FileState())

    def save(self) -> None:
        if self.path is None:
            return
        body: dict[str, Any] = {"version": 1, "files": {k: asdict(v) for k, v in self.files.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".watch-state-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, separators=(",", ":"))
        os.replace(tmp, self.path)
