"""``mastlens watch``: growing trace files (and OTLP spans) fed to live rules verdicts.

Files are followed with :mod:`watchfiles` (inotify where the system has it): a change wakes the watch,
which reads the complete lines appended since the file's offset. Every event the watch produces (an alert,
a run's end with its final verdict, a notice) goes to the ``emit`` callback; the CLI prints them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mastlens.guard.actions import AlertActions
from mastlens.guard.live import Alert, Budget, LiveRun, now_iso
from mastlens.guard.sources import Feed, FollowedFile, detect_format, feed_for
from mastlens.guard.state import FileState, RunState, WatchState
from mastlens.judges.rules import DEFAULT_CONFIG, RulesConfig
from mastlens.trace import ModeStatus, Trace

TRACE_SUFFIXES = (".jsonl", ".ndjson", ".json")
SWEEP_SECONDS = 2.0  # every followed file is looked at this often, event or not
Emit = Callable[[dict[str, Any]], None]


@dataclass
class WatchOptions:
    fmt: str = "auto"
    config: RulesConfig = DEFAULT_CONFIG
    budget: Budget = field(default_factory=Budget)
    idle_seconds: float = 30.0
    window: int = 48
    once: bool = False
    store_db: Path | None = None
    ignore: tuple[Path, ...] = ()  # files never taken as traces (the state file, the store)


class Tracked:
    """One followed file: where it was read to, its feed and its runs."""

    def __init__(self, path: Path, follower: FollowedFile):
        self.path = path
        self.follower = follower
        self.fmt: str | None = None
        self.feed: Feed | None = None
        self.runs: dict[str, LiveRun] = {}
        self.lines = 0
        self.unreadable = False
        self.errors_told = 0
        self.read_cache: tuple[tuple[int, int, int], list[Trace]] | None = None


class Watcher:
    """Follows ``paths`` (files and folders) and feeds each run's steps to a :class:`LiveRun`."""

    def __init__(self, paths: list[Path], options: WatchOptions, state: WatchState, emit: Emit,
                 actions: AlertActions | None = None):
        self.roots = [p.resolve() for p in paths]
        self.options = options
        self.state = state
        self.emit = emit
        self.actions = actions or AlertActions()
        self.files: dict[Path, Tracked] = {}
        self.otlp = None  # an OtlpRuns, when spans are received
        self._ignore = {p.resolve() for p in options.ignore}

    # -- files -------------------------------------------------------------------------------------------
    def wants(self, path: Path) -> bool:
        if path in self._ignore or path.name.startswith(".") or not path.name.endswith(TRACE_SUFFIXES):
            return False
        return any(path == r or r in path.parents for r in self.roots)

    def scan(self) -> list[Path]:
        found = []
        for root in self.roots:
            if root.is_file():
                found.append(root)
            elif root.is_dir():
                found += sorted(p for p in root.rglob("*") if p.is_file() and self.wants(p))
        return found

    def start(self) -> None:
        """Read every file found now: what a previous watch already read is replayed without alerts."""
        self.process_all(self.scan())

    def process_all(self, paths: list[Path]) -> None:
        """Read what each of ``paths`` gained; the state is saved once, before any of the alerts goes out
        (a watch killed in between repeats none of them)."""
        if not paths:
            return
        alerts: list[Alert] = []
        for path in paths:
            try:
                alerts += self.process(path)
            except Exception as exc:  # noqa: BLE001 - one file the watch trips over must not end it
                self.emit({"event": "error", "time": now_iso(), "source": str(path),
                           "message": f"{path}: {type(exc).__name__}: {exc}; the other files are still followed"})
        self.state.save()
        for alert in alerts:
            self.send(alert)

    def process(self, path: Path) -> list[Alert]:
        """The alerts what ``path`` gained raises (the caller saves the state, then sends them)."""
        tracked = self.files.get(path)
        if tracked is None:
            saved = self.state.files.get(str(path))
            follower = FollowedFile(path, 0, saved.inode if saved else None)
            tracked = self.files[path] = Tracked(path, follower)
        if tracked.unreadable:
            return []
        replay_to = self._saved_offset(tracked)
        chunk = tracked.follower.read_new(whole=tracked.path.suffix == ".json")
        if chunk.restarted:
            self._start_over(tracked, chunk.restarted)
            replay_to = 0
        if not chunk.lines:
            return []
        if tracked.feed is None and not self._open_feed(tracked):
            return []
        quiet_lines, loud_lines, pos = [], [], chunk.start
        for line in chunk.lines:
            pos += len(line)
            (quiet_lines if pos <= replay_to else loud_lines).append(line)
        alerts: list[Alert] = []
        for lines, quiet in ((quiet_lines, True), (loud_lines, False)):
            if lines:
                alerts += self._feed(tracked, lines, quiet)
        self._remember(tracked)
        return alerts

    def _saved_offset(self, tracked: Tracked) -> int:
        saved = self.state.files.get(str(tracked.path))
        if saved is None or tracked.lines or tracked.feed is not None:
            return 0
        return saved.offset

    def _start_over(self, tracked: Tracked, why: str) -> None:
        self.emit({"event": "notice", "time": now_iso(), "source": str(tracked.path),
                   "message": f"{tracked.path}: file {why}; reading it from the start"})
        tracked.feed, tracked.runs, tracked.lines = None, {}, 0
        self.state.files[str(tracked.path)] = FileState()

    def _open_feed(self, tracked: Tracked) -> bool:
        fmt = self.options.fmt
        if fmt == "auto":
            from mastlens.adapters.base import read_head

            fmt = detect_format(tracked.path, read_head(tracked.path))
        if fmt is None:
            tracked.unreadable = True
            self.emit({"event": "notice", "time": now_iso(), "source": str(tracked.path),
                       "message": f"{tracked.path}: not a trace format mastlens reads; not followed"})
            return False
        tracked.fmt = fmt
        tracked.feed = feed_for(tracked.path, fmt)
        return True

    def _feed(self, tracked: Tracked, lines: list[bytes], quiet: bool) -> list[Alert]:
        feed = tracked.feed
        assert feed is not None
        new = feed.feed(lines, tracked.lines + 1)
        tracked.lines += len(lines)
        for error in feed.errors[tracked.errors_told:]:
            self.emit({"event": "error", "time": now_iso(), "source": str(tracked.path), "message": error})
        tracked.errors_told = len(feed.errors)
        saved = self.state.file(tracked.path)
        alerts: list[Alert] = []
        for run_id, steps in new.items():
            run = tracked.runs.get(run_id)
            if run is None:
                before = saved.runs.get(run_id, RunState())
                run = tracked.runs[run_id] = LiveRun(run_id, str(tracked.path), config=self.options.config,
                                                     window=self.options.window, budget=self.options.budget,
                                                     alerted=before.alerted)
                run.finished = before.finished and quiet
            if not quiet:
                run.finished = False
            alerts += run.add(steps, quiet=quiet)
        for run_id in sorted(feed.turn_ended):
            if run_id in tracked.runs:
                alerts += tracked.runs[run_id].judge_whole(quiet=quiet)
        feed.turn_ended.clear()
        return alerts

    def _remember(self, tracked: Tracked) -> None:
        saved = self.state.file(tracked.path)
        saved.offset, saved.inode = tracked.follower.offset, tracked.follower.inode
        saved.format, saved.lines = tracked.fmt, tracked.lines
        for run_id, run in tracked.runs.items():
            saved.runs[run_id] = RunState(alerted=dict(run.alerted), finished=run.finished)

    # -- run ends ----------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Clock-driven work: time budgets, and runs quiet for ``idle_seconds`` finished."""
        now = time.monotonic()
        for tracked in list(self.files.values()):
            for run_id, run in list(tracked.runs.items()):
                if run.finished:
                    continue
                for alert in run.check_time():
                    self.send(alert)
                if now - run.last_step_at >= self.options.idle_seconds:
                    self.finish(tracked, run_id)
        if self.otlp is not None:
            self.otlp.tick(now)

    def finish_all(self) -> None:
        for tracked in list(self.files.values()):
            for run_id, run in list(tracked.runs.items()):
                if not run.finished:
                    self.finish(tracked, run_id)
        if self.otlp is not None:
            self.otlp.finish_all()

    def finish(self, tracked: Tracked, run_id: str) -> None:
        """A run's end: its file read whole by the adapter and judged, as ``annotate --judge rules`` would."""
        from mastlens.adapters.base import ReadContext
        from mastlens.adapters.loader import read_file

        run = tracked.runs[run_id]
        try:
            st = tracked.path.stat()
        except OSError:  # gone: judged on the steps seen
            traces: list[Trace] = []
        else:
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if tracked.read_cache is None or tracked.read_cache[0] != stamp:  # several runs in one file: read once
                tracked.read_cache = (stamp, read_file(tracked.path, tracked.fmt or "auto", ReadContext()).traces)
            traces = tracked.read_cache[1]
        trace = next((t for t in traces if t.id == run_id), traces[0] if len(traces) == 1 else None)
        alerts = run.judge_whole(trace, final=True) if trace is not None else run.judge_whole(final=True)
        run.finished = True
        self._remember(tracked)
        self.state.save()
        for alert in alerts:
            self.send(alert)
        self.end_event(run, trace)
        if self.options.store_db is not None and trace is not None and all(r.finished for r in tracked.runs.values()):
            self._store(tracked.path, tracked.fmt or "auto")  # once the file's every run is over

    def end_event(self, run: LiveRun, trace: Trace | None) -> None:
        verdict = run.final
        modes = {m: v.status.value for m, v in verdict.modes.items()} if verdict else {}
        self.emit({"event": "run_end", "time": now_iso(), "run": run.run_id, "source": run.source,
                   "steps": len(trace.steps) if trace is not None else len(run.steps),
                   "present": [m for m, s in modes.items() if s == ModeStatus.PRESENT.value], "modes": modes})

    def _store(self, path: Path, fmt: str) -> None:
        from mastlens.guard.collect import store_run

        try:
            message = store_run(self.options.store_db, path, fmt, self.options.config)
        except Exception as exc:  # noqa: BLE001 - storing is a side job: the watch goes on
            self.emit({"event": "error", "time": now_iso(), "source": str(path),
                       "message": f"storing {path} failed: {type(exc).__name__}: {exc}"})
            return
        self.emit({"event": "stored", "time": now_iso(), "source": str(path), "message": message})

    # -- alerts ------------------------------------------------------------------------------------------
    def send(self, alert: Alert) -> None:
        self.actions.before_emit(alert, self.emit)
        self.emit({"event": "alert", **alert.to_json()})
        self.actions.after_emit(alert, self.emit)

    # -- the loop ----------------------------------------------------------------------------------------
    def watch_dirs(self) -> list[Path]:
        dirs = {r if r.is_dir() else r.parent for r in self.roots}
        return sorted(d for d in dirs if d.exists())

    def run(self, stop: threading.Event) -> None:
        """Start, then follow until ``stop`` is set (``once``: read what is there, finish every run, return)."""
        self.start()
        if self.options.once:
            self.finish_all()
            return
        dirs = self.watch_dirs()
        if not dirs:
            while not stop.wait(0.1):
                self._drain_otlp()
                self.tick()
            return
        import watchfiles

        first, last_sweep = True, time.monotonic()
        for changes in watchfiles.watch(*dirs, stop_event=stop, debounce=50, step=5, rust_timeout=100,
                                        yield_on_timeout=True, raise_interrupt=False):
            paths = {Path(c) for _, c in changes}
            if first:  # written between the first scan and the watcher being ready: no event told of it
                paths |= set(self.scan())
                first = False
            if time.monotonic() - last_sweep >= SWEEP_SECONDS:  # a missed event (a full inotify queue) costs a delay
                paths |= set(self.files)
                last_sweep = time.monotonic()
            self.process_all([p for p in sorted(paths) if self.wants(p) and p.is_file()])
            for path in [p for p in self.files if not p.exists()]:
                del self.files[path]  # deleted: a file created again under its name starts over
            self._drain_otlp()
            self.tick()

    def _drain_otlp(self) -> None:
        if self.otlp is not None:
            for alert in self.otlp.drain():
                self.send(alert)


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT end the watch cleanly (state saved, the store closed)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
