"""`mastlens guard claude-code`: the live rules detectors as a Claude Code hook (and its settings snippet).

Claude Code runs the hook on every tool call and stop, so the settings call :func:`hook_main` (the
``mastlens-guard-hook`` script, or ``python -m mastlens.cli.guard``) directly: it loads neither typer nor rich,
and a decision goes to the state folder's warm worker (:mod:`mastlens.guard.hook_worker`), so the hook process
loads the detectors (with pydantic behind them) only when no worker answers. ``mastlens guard claude-code``
runs the same hook through the full CLI.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional

if TYPE_CHECKING:
    import typer

AGENTS = ("claude-code",)
HOOK_EVENTS = ("PreToolUse", "PostToolUse", "Stop")
HOOK_COMMAND = "mastlens-guard-hook"
# what earlier versions installed: the same hook through the whole CLI, replaced by ``--install``
SLOW_COMMANDS = ("mastlens guard claude-code",)
STATE_ENV = "MASTLENS_GUARD_STATE"


def settings_snippet(command: str) -> dict[str, Any]:
    """The ``hooks`` block of ``.claude/settings.json`` that runs the guard on every tool call and stop."""
    entry = {"type": "command", "command": command, "timeout": 10}
    hooks: dict[str, Any] = {}
    for event in HOOK_EVENTS:
        hooks[event] = [{"matcher": "*", "hooks": [entry]}] if event != "Stop" else [{"hooks": [entry]}]
    return {"hooks": hooks}


def merge_settings(settings: dict[str, Any], command: str) -> dict[str, Any]:
    """``settings`` with the guard's hooks added, each event once (an entry already running ``command`` is kept;
    one running the guard through the slower whole CLI is replaced, so the guard never runs twice)."""
    merged = dict(settings)
    hooks = dict(merged.get("hooks") or {})
    replaced = {c for c in SLOW_COMMANDS if c != command}
    for event, groups in settings_snippet(command)["hooks"].items():
        existing = []
        for group in hooks.get(event) or []:
            kept = [h for h in (group.get("hooks") or []) if h.get("command") not in replaced]
            if kept or not group.get("hooks"):
                existing.append({**group, "hooks": kept} if kept != group.get("hooks") else group)
        if not any(h.get("command") == command for g in existing for h in (g.get("hooks") or [])):
            existing += groups
        hooks[event] = existing
    merged["hooks"] = hooks
    return merged


def _install(settings_path: Path, command: str) -> None:
    from mastlens.cli.common import fail

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
    import time

    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        with open(state_dir / "errors.log", "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
    except OSError:
        pass


def _default_state_dir() -> Path:
    from mastlens.guard.hook_quick import default_state_dir

    return Path(os.environ[STATE_ENV]) if os.environ.get(STATE_ENV) else default_state_dir()


def _hook(state_dir: Path, rules_config: Path | None) -> int:
    """One hook call: 0 to let Claude Code go on, 2 (reason on stderr) to block. Never fails closed."""
    try:
        from mastlens.guard.hook_quick import quick_allow

        event = json.loads(sys.stdin.buffer.read() or b"{}")
        if not isinstance(event, dict):
            raise ValueError("the hook input is not a JSON object")
        from mastlens.guard import hook_worker

        if quick_allow(event, state_dir, rules_config):  # not a possible repeat: no need to load the detectors
            hook_worker.warm(state_dir)  # a worker ready for the next decision
            return 0
        code, reason = _decide(event, state_dir, rules_config)
    except Exception as exc:  # noqa: BLE001 - a guard's own bug must never stop the agent's work
        import traceback

        _log_error(state_dir, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        sys.stderr.write(f"mastlens guard: internal error ({type(exc).__name__}: {exc}); not blocking\n")
        return 0
    if code == 2:
        sys.stderr.write(reason + "\n")
    return code


def _decide(event: dict[str, Any], state_dir: Path, rules_config: Path | None) -> tuple[int, str]:
    """A decision by the detectors: the state folder's warm worker's (:mod:`mastlens.guard.hook_worker`,
    the same code with the imports already paid), else made here."""
    from mastlens.guard import hook_worker

    if hook_worker.enabled():
        try:
            return hook_worker.ask_or_start(event, state_dir, rules_config)
        except hook_worker.NoWorker:
            pass
    from mastlens.guard.hook import run_hook
    from mastlens.guard.hook_quick import remember_repeat_threshold
    from mastlens.judges.rules import DEFAULT_CONFIG, load_rules_config

    config = load_rules_config(rules_config) if rules_config else DEFAULT_CONFIG
    remember_repeat_threshold(state_dir, rules_config, config.repeat_min_calls)
    decision = run_hook(event, state_dir, config)
    return decision.code, decision.reason


def hook_call(argv: list[str] | None = None) -> int:
    """``mastlens-guard-hook [--state-dir DIR] [--rules-config FILE]``: one hook call, the exit code returned.
    Options it cannot read are logged and let the agent go on (exit 2 would block every call)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise ValueError(message)

    parser = Parser(prog=HOOK_COMMAND, description="The mastlens guard as a Claude Code hook: the hook JSON on "
                    "stdin; exit 2 blocks (reason on stderr), exit 0 lets the agent go on.")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help=f"Per-session state (default ${STATE_ENV} or ~/.local/state/mastlens/claude-code).")
    parser.add_argument("--rules-config", type=Path, default=None, help="TOML file of rules thresholds.")
    try:
        args = parser.parse_args(argv)
    except ValueError as exc:
        _log_error(_default_state_dir(), f"{HOOK_COMMAND}: {exc}")
        sys.stderr.write(f"{HOOK_COMMAND}: {exc}; not blocking\n")
        return 0
    return _hook(args.state_dir or _default_state_dir(), args.rules_config)


def hook_main() -> NoReturn:
    """The ``mastlens-guard-hook`` script: one hook call, then leave without the interpreter's module teardown
    (tens of ms once the detectors are loaded), atexit handlers run and output flushed first."""
    import atexit

    code = hook_call()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def register(app: typer.Typer) -> None:
    import typer

    from mastlens.cli.common import fail

    @app.command("guard")
    def guard_command(
        agent: str = typer.Argument(..., help="The agent whose hooks call this: claude-code."),
        state_dir: Optional[Path] = typer.Option(None, "--state-dir", envvar=STATE_ENV,
                                                 help="Per-session state (default ~/.local/state/mastlens/claude-code).",
                                                 show_default=False),
        rules_config: Optional[Path] = typer.Option(None, "--rules-config", help="TOML file of rules thresholds.",
                                                    show_default=False),
        print_settings: bool = typer.Option(False, "--print-settings",
                                            help="Print the .claude/settings.json hooks snippet and exit."),
        install: Optional[Path] = typer.Option(None, "--install", show_default=False,
                                               help="Merge the hooks into this settings.json (e.g. .claude/settings.json)."),
        command: str = typer.Option(HOOK_COMMAND, "--command",
                                    help="The command the settings run (with --print-settings / --install); the "
                                         "default is the guard's light entry point, which skips this CLI's startup."),
    ) -> None:
        """Block a Claude Code tool call that repeats a failed call for the k-th time (FM-1.3), or a stop on an
        unverified change or a contradicted success claim (FM-3.2 / FM-3.3). Reads the hook JSON on stdin;
        exit 2 blocks (reason on stderr), exit 0 lets the agent go on, also when mastlens itself fails.
        Claude Code's settings run the same hook as `mastlens-guard-hook`, which starts faster."""
        if agent not in AGENTS:
            fail(f"unknown agent {agent!r}: {', '.join(AGENTS)}")
        if print_settings:
            sys.stdout.write(json.dumps(settings_snippet(command), indent=2) + "\n")
            return
        if install is not None:
            _install(install, command)
            return
        raise typer.Exit(_hook(state_dir or _default_state_dir(), rules_config))


if __name__ == "__main__":  # python -m mastlens.cli.guard: the hook, as mastlens-guard-hook runs it
    hook_main()
