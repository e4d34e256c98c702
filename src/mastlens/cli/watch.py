"""`mastlens watch`: follow traces as they are written and raise MAST alerts while the agent runs."""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from mastlens.cli.common import DbOption, EXIT_USAGE, JsonOption, err_console, fail, note

_HELP_KILL_ON = "Modes that make --kill-pid stop the agent (comma-separated, e.g. FM-1.3,FM-1.5)."


def _parse_otlp(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        fail(f"--otlp {value!r}: expected PORT or HOST:PORT")


class _Printer:
    """Where the watch's events go: JSON lines on stdout (``--json``), else readable lines on stderr and a
    run table at the end. Thread-safe (the --on-alert commands report from their own threads)."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.lock = threading.Lock()
        self.watcher: Any = None
        self.live: Any = None
        self.alerts: dict[str, int] = {}

    def table(self) -> Any:
        """Per run: steps, elapsed, last tool, alerts (the live view of a watch without --json)."""
        from rich.table import Table

        table = Table(title="mastlens watch", title_justify="left", expand=False)
        for column in ("run", "source", "steps", "elapsed", "last tool", "alerts", "state"):
            table.add_column(column, justify="right" if column in ("steps", "elapsed") else "left")
        runs = [r for t in (self.watcher.files.values() if self.watcher else []) for r in t.runs.values()]
        if self.watcher is not None and self.watcher.otlp is not None:
            runs += list(self.watcher.otlp.runs.values())
        for run in runs[-30:]:
            alerted = ", ".join(sorted(m for m in run.alerted if not m.startswith("budget:"))) or "-"
            table.add_row(escape(run.run_id[-36:]), escape(Path(run.source).name[-40:]), str(len(run.steps)),
                          f"{run.elapsed():.0f} s", escape(run.last_tool or "-"), alerted,
                          "ended" if run.finished else "running")
        return table

    def refresh(self) -> None:
        if self.live is not None:
            with self.lock:
                self.live.update(self.table())

    def __call__(self, event: dict[str, Any]) -> None:
        with self.lock:
            kind = event.get("event")
            if self.as_json:
                stream = sys.stdout if kind in ("alert", "run_end") else sys.stderr
                stream.write(json.dumps(event, ensure_ascii=False) + "\n")
                stream.flush()
                return
            out = self.live.console if self.live is not None else err_console
            if kind == "alert":
                quote = event["evidence"][0]["quote"] if event.get("evidence") else ""
                out.print(f"[bold red]{event['mode']}[/] run {escape(event['run'])} step {event['step']}: "
                                  f"{escape(event['reason'])}" + (f"\n    [dim]{escape(quote[:160])}[/]" if quote else "")
                                  + (f"\n    [yellow]{escape(event['action'])}[/]" if event["action"] != "alert" else ""))
            elif kind == "run_end":
                present = ", ".join(event["present"]) or "no failure pattern"
                out.print(f"[bold]run ended[/] {escape(event['run'])} ({event['steps']} steps): {present}")
            else:
                colour = "red" if kind == "error" else "dim"
                out.print(f"[{colour}]{escape(str(event.get('message', '')))}[/]")


def register(app: typer.Typer) -> None:
    @app.command("watch")
    def watch_command(
        paths: list[Path] = typer.Argument(None, help="Trace files or folders to follow (new files in a folder "
                                                      "are picked up).", show_default=False),
        fmt: str = typer.Option("auto", "--format", help="Input format of the files (default: sniffed)."),
        otlp: Optional[str] = typer.Option(None, "--otlp", help="Also receive OTLP/HTTP spans on [HOST:]PORT "
                                                                "(loopback only; POST /v1/traces).", show_default=False),
        otlp_token: Optional[str] = typer.Option(None, "--otlp-token", envvar="MASTLENS_OTLP_TOKEN",
                                                 help="Bearer token the receiver wants (default: a new one, printed).",
                                                 show_default=False),
        rules_config: Optional[Path] = typer.Option(None, "--rules-config", help="TOML file of rules thresholds.",
                                                    show_default=False),
        budget_steps: Optional[int] = typer.Option(None, "--budget-steps", min=1, show_default=False,
                                                   help="Alert (FM-1.5) when a run reaches this many steps."),
        budget_seconds: Optional[float] = typer.Option(None, "--budget-seconds", min=0.001, show_default=False,
                                                       help="Alert (FM-1.5) when a run has lasted this long."),
        on_alert: Optional[str] = typer.Option(None, "--on-alert", show_default=False,
                                               help="Command run on each alert, with the alert JSON on stdin."),
        kill_pid: Optional[int] = typer.Option(None, "--kill-pid", show_default=False,
                                               help="Agent process to send SIGTERM when a --kill-on mode fires."),
        kill_on: Optional[str] = typer.Option(None, "--kill-on", help=_HELP_KILL_ON, show_default=False),
        store: bool = typer.Option(False, "--store", help="Ingest and annotate (rules) each finished run."),
        db: Optional[Path] = DbOption,
        state: Optional[Path] = typer.Option(None, "--state", show_default=False,
                                             help="Where read offsets and raised alerts are kept across restarts "
                                                  "(default: beside the store, <db>.watch.json)."),
        idle_seconds: float = typer.Option(30.0, "--idle-seconds", min=0.01,
                                           help="A run with no new step for this long is finished (judged whole)."),
        once: bool = typer.Option(False, "--once", help="Read what is there, finish every run and exit."),
        as_json: bool = JsonOption,
    ) -> None:
        """Follow growing traces (Codex rollouts, Claude Code sessions, any format mastlens reads; OTLP spans)
        and raise an alert the moment a run shows a MAST failure pattern. At a run's end its verdict is the
        rules judge's on the finished trace."""
        from mastlens.guard.actions import AlertActions
        from mastlens.guard.live import Budget
        from mastlens.guard.state import WatchState
        from mastlens.guard.watcher import Watcher, WatchOptions, install_stop_signals
        from mastlens.judges.rules import DEFAULT_CONFIG
        from mastlens.store import default_db_path

        if not paths and otlp is None:
            fail("give trace files or folders to follow, or --otlp PORT", EXIT_USAGE)
        missing = [p for p in paths or [] if not p.exists()]
        if missing:
            fail(f"{missing[0]}: no such file or folder")
        if kill_pid is not None and not kill_on:
            fail("--kill-pid needs --kill-on MODES (which modes stop the agent)")
        from mastlens.cli.annotate import rules_options

        config = rules_options(rules_config).get("config", DEFAULT_CONFIG)
        db_path = Path(db or default_db_path())
        state_path = state or db_path.with_name(db_path.name + ".watch.json")
        try:
            watch_state = WatchState(state_path)
        except ValueError as exc:
            fail(str(exc))
        printer = _Printer(as_json)
        modes = {m.strip() for m in (kill_on or "").split(",") if m.strip()}
        if modes:
            from mastlens.taxonomy import load_taxonomy

            unknown = sorted(modes - set(load_taxonomy().ids))
            if unknown:
                fail(f"--kill-on {', '.join(unknown)}: not a mode of the taxonomy (e.g. FM-1.3,FM-1.5)")
        actions = AlertActions(kill_pid=kill_pid, kill_on=modes, on_alert=on_alert)
        budget = Budget(steps=budget_steps, seconds=budget_seconds)
        options = WatchOptions(fmt=fmt, config=config, budget=budget, idle_seconds=idle_seconds, once=once,
                               store_db=db_path if store else None, ignore=(state_path, db_path))
        watcher = Watcher(list(paths or []), options, watch_state, printer, actions)
        receiver = None
        if otlp is not None:
            receiver = _start_receiver(otlp, otlp_token, watcher, printer, config, budget, idle_seconds)
        stop = threading.Event()
        install_stop_signals(stop)
        printer.watcher = watcher
        live = None
        if not as_json and err_console.is_terminal:
            from rich.live import Live

            live = printer.live = Live(printer.table(), console=err_console, refresh_per_second=4)
            live.start()
            threading.Thread(target=_refresh_loop, args=(printer, stop), daemon=True).start()
        try:
            watcher.run(stop)
        finally:
            if live is not None:
                printer.refresh()
                live.stop()
            if receiver is not None:
                receiver.stop()
            watch_state.save()
            actions.wait()


def _refresh_loop(printer: _Printer, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        try:
            printer.refresh()
        except RuntimeError:  # a run table changing size while read: the next refresh shows it
            pass


def _start_receiver(otlp: str, token: str | None, watcher: Any, printer: Any, config: Any, budget: Any,
                    idle: float) -> Any:
    from mastlens.guard.otlp import OtlpRuns, Receiver

    host, port = _parse_otlp(otlp)
    token = token or secrets.token_urlsafe(24)
    try:
        receiver = Receiver(port, token, host)
        receiver.start()
    except (ValueError, OSError) as exc:
        fail(str(exc))
    watcher.otlp = OtlpRuns(receiver.inbox, printer, watcher.send, config=config, budget=budget,
                            window=watcher.options.window, idle_seconds=idle)
    if not os.environ.get("MASTLENS_OTLP_TOKEN"):
        note(f"OTLP receiver on http://{receiver.host}:{receiver.port}/v1/traces; exporters send "
             f"OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20{token}")
    else:
        note(f"OTLP receiver on http://{receiver.host}:{receiver.port}/v1/traces (token from MASTLENS_OTLP_TOKEN)")
    return receiver
