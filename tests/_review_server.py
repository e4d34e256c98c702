"""A real `mastlens review` server for the review tests: the CLI in a child process on 127.0.0.1, port 0,
its printed address read from stdout and its log (stderr) kept for inspection."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

START_TIMEOUT = 120


@dataclass
class ReviewServer:
    process: subprocess.Popen
    url: str  # the printed address, with the token
    log_path: Path
    stdout_lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.url).query)["token"][0]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_review(db: Path, tmp_path: Path, *args: str, name: str = "review") -> ReviewServer:
    """Start `mastlens review --db DB ARGS...` and wait for the address it prints."""
    log_path = tmp_path / f"{name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from mastlens.cli.app import main; main()", "review", "--db", str(db), *args],
        stdout=subprocess.PIPE, stderr=log_path.open("w", encoding="utf-8"), text=True, env=env)
    lines: list[str] = []
    found: list[str] = []

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("open http") and not found:
                found.append(line.split(" ", 1)[1].strip())

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while not found:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"mastlens review did not start: {''.join(lines)}\n{log_path.read_text()}")
        time.sleep(0.05)
    return ReviewServer(process=process, url=found[0], log_path=log_path, stdout_lines=lines)
