"""`mastlens guard claude-code`: the live rules detectors as a Claude Code hook (and its settings snippet)."""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Optional

import typer

from mastlens.cli.common import fail

AGENTS = ("claude-code",)
HOOK_EVENTS = ("PreToolUse", "PostToolUse", "Stop")


def settings_snippet(command: str) -> dict[str, Any]:
    """The ``hooks`` block of ``.claude/settings.json`` that runs the guard on every tool call and stop."""
    entry = {"type": "command", "command": command, "timeout": 10}
    hooks: dict[str, Any] = {}
    for event in HOOK_EVENTS:
        hooks[event] = [{"matcher": "*", "hooks": [entry]}] if event != "Stop" else [{"hooks": [entry]}]
    return {"hooks": hooks}


def merge_settings(settings: dict[str, Any], command: str) -> dict[str, Any]:
    """``settings`` with the guard's hooks added, each event once (an entry already running ``command`` is kept)."""
    merged = dict(settings)
    hooks = dict(merged.get("hooks") or {})
    for event, groups in settings_snippet(command)["hooks"].items():
        existing = list(hooks.get(event) or [])
        if not any(h.get("command") == command for g in existing for h in (g.get("hooks") or [])):
            existing += groups
        hooks[event] = existing
    merged["hooks"] = hooks
    return merged


def _install(settings_path: Path, command: str) -> None:
    current: dict[str, Any] = {}
    if settings_path.exists():
        try:
            current = json.loads(settings_path.read_text(encoding="utf-8") or "{}")
        except ValueError as exc:
            fail(f"{settings_path}: not valid JSON ({exc}); fix it or merge the snippet from --print-settings by hand")
        if not isinstance(current, dict):
            fail(f"{settings_path}: expected a JSON object")
    settings_path.parent.mkdir(parents=True, exist_ok=True)
    settings_path.write_text(json.dumps(merge_settings(current, command), indent=2) + "\n", encoding="utf-8")
    sys.stderr.write(f"mastlens guard hooks ({', '.join(HOOK_EVENTS)}) written to {settings_path}\n")


def _log_error(state_dir: Path, message: str) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        with open(state_dir / "errors.log", "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
    except OSError:
        pass


def _hook(state_dir: Path, rules_config: Path | None) -> int:
    """One hook call: 0 to let Claude Code go on, 2 (reason on stderr) to block. Never fails closed."""
    try:
        from mastlens.guard.hook_quick import quick_allow

        event = json.loads(sys.stdin.buffer.read() or b"{}")
        if not isinstance(event, dict):
            raise ValueError("the hook input is not a JSON object")
        if quick_allow(event, state_dir):  # not a possible repeat: no need to load the detectors
            return 0
        from mastlens.guard.hook import run_hook
        from mastlens.judges.rules import DEFAULT_CONFIG, load_rules_config

        config = load_rules_config(rules_config) if rules_config else DEFAULT_CONFIG
        decision = run_hook(event, state_dir, config)
    except Exception as exc:  # noqa: BLE001 - a guard's own bug must never stop the agent's work
        _log_error(state_dir, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        sys.stderr.write(f"mastlens guard: internal error ({type(exc).__name__}: {exc}); not blocking\n")
        return 0
    if decision.code == 2:
        sys.stderr.write(decision.reason + "\n")
    return decision.code


def register(app: typer.Typer) -> None:
    @app.command("guard")
    def guard_command(
        agent: str = typer.Argument(..., help="The agent whose hooks call this: claude-code."),
        state_dir: Optional[Path] = typer.Option(None, "--state-dir", envvar="MASTLENS_GUARD_STATE",
                                                 help="Per-session state (default ~/.local/state/mastlens/claude-code).",
                                                 show_default=False),
        rules_config: Optional[Path] = typer.Option(None, "--rules-config", help="TOML file of rules thresholds.",
                                                    show_default=False),
        print_settings: bool = typer.Option(False, "--print-settings",
                                            help="Print the .claude/settings.json hooks snippet and exit."),
        install: Optional[Path] = typer.Option(None, "--install", show_default=False,
                                               help="Merge the hooks into this settings.json (e.g. .claude/settings.json)."),
        command: str = typer.Option("mastlens guard claude-code", "--command",
                                    help="The command the settings run (with --print-settings / --install)."),
    ) -> None:
        """Block a Claude Code tool call that repeats a failed call for the k-th time (FM-1.3), or a stop on an
        unverified change or a contradicted success claim (FM-3.2 / FM-3.3). Reads the hook JSON on stdin;
        exit 2 blocks (reason on stderr), exit 0 lets the agent go on, also when mastlens itself fails."""
        if agent not in AGENTS:
            fail(f"unknown agent {agent!r}: {', '.join(AGENTS)}")
        if print_settings:
            sys.stdout.write(json.dumps(settings_snippet(command), indent=2) + "\n")
            return
        if install is not None:
            _install(install, command)
            return
        from mastlens.guard.hook_quick import default_state_dir

        raise typer.Exit(_hook(state_dir or default_state_dir(), rules_config))
