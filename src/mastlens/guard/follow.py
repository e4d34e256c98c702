"""Growing files read as they are written: complete lines only, from a byte offset, with truncation and
replacement noticed. Standard library only, so the Claude Code hook's quick path loads nothing else."""

from __future__ import annotations

import os


class Chunk:
    """What a followed file yielded since the last look (a plain class: ``dataclasses`` would cost the hook's
    quick path more to import than all the rest of it)."""

    __slots__ = ("lines", "restarted", "start")

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.restarted: str | None = None  # "truncated" / "replaced" when the file was started over
        self.start = 0  # byte offset of the first line


class FollowedFile:
    """A file read from ``offset`` on; ``offset`` always sits after the last complete line consumed, so a
    partial last line is read again (whole) once its writer finishes it."""

    def __init__(self, path: Path, offset: int = 0, inode: int | None = None):
        self.path = path
        self.offset = offset
        self.inode = inode

    def read_new(self, max_bytes: int = 64 * 1024 * 1024, whole: bool = False) -> Chunk:
        """The complete lines appended since ``offset`` (``whole``: everything appended, as one piece, for
        a JSON document that is rewritten rather than appended to)."""
        try:
            fh = open(self.path, "rb")
        except OSError:
            return Chunk()
        with fh:
            st = os.fstat(fh.fileno())
            chunk = Chunk()
            if self.inode is not None and st.st_ino != self.inode:
                chunk.restarted = "replaced"
                self.offset = 0
            elif st.st_size < self.offset:
                chunk.restarted = "truncated"
                self.offset = 0
            self.inode = st.st_ino
            if st.st_size == self.offset:
                return chunk
            fh.seek(self.offset)
            data = fh.read(max_bytes)
        end = len(data) - 1 if whole else data.rfind(b"\n")
        if end < 0:
            return chunk  # only a partial line so far
        chunk.start = self.offset
        chunk.lines = data[:end + 1].splitlines(keepends=True)
        self.offset += end + 1
        return chunk
