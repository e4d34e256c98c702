"""What an alert sets off besides its line: a hard stop of the agent's process (``--kill-pid``) and the
user's command (``--on-alert``), run with the alert JSON on its stdin, never waited for and never able to
stop the watch."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from mastlens.guard.live import Alert, now_iso

Emit = Callable[[dict[str, Any]], None]


class AlertActions:
    def __init__(self, *, kill_pid: int | None = None, kill_on: set[str] | None = None,
                 on_alert: str | None = None):
        self.kill_pid = kill_pid
        self.kill_on = set(kill_on or ())
        self.on_alert = on_alert
        self.killed = False
        self._running: list[threading.Thread] = []

    def before_emit(self, alert: Alert, emit: Emit) -> None:
        """Stop the agent when its mode is one of ``kill_on`` (the alert then says so in ``action``)."""
        if self.kill_pid is None or self.killed or alert.mode not in self.kill_on:
            return
        try:
            os.kill(self.kill_pid, signal.SIGTERM)
        except OSError as exc:
            emit({"event": "error", "time": now_iso(), "source": alert.source,
                  "message": f"could not stop pid {self.kill_pid}: {exc.strerror or exc}"})
            return
        self.killed = True
        alert.action = f"sigterm:{self.kill_pid}"
        emit({"event": "notice", "time": now_iso(), "source": alert.source,
              "message": f"sent SIGTERM to pid {self.kill_pid} on {alert.mode} in run {alert.run}"})

    def after_emit(self, alert: Alert, emit: Emit) -> None:
        if self.on_alert:
            thread = threading.Thread(target=self._run_command, args=(alert, emit), daemon=True)
            thread.start()
            self._running = [t for t in self._running if t.is_alive()] + [thread]

    def wait(self, timeout: float = 30.0) -> None:
        """Let the --on-alert commands still running finish (the watch is ending)."""
        for thread in self._running:
            thread.join(timeout)

    def _run_command(self, alert: Alert, emit: Emit) -> None:
        body = json.dumps(alert.to_json(), ensure_ascii=False).encode("utf-8")
        try:
            proc = subprocess.run(shlex.split(self.on_alert or ""), input=body, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            emit({"event": "error", "time": now_iso(), "source": alert.source,
                  "message": f"--on-alert command failed: {type(exc).__name__}: {exc}"})
            return
        if proc.returncode != 0:
            tail = proc.stderr.decode("utf-8", "replace").strip()[-300:]
            emit({"event": "error", "time": now_iso(), "source": alert.source,
                  "message": f"--on-alert command exited {proc.returncode}" + (f": {tail}" if tail else "")})
