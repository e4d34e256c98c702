"""The light hook entry (`mastlens-guard-hook`, i.e. `python -m mastlens.cli.guard`) that Claude Code's settings
run: the same decisions, reasons and kept state as `mastlens guard claude-code` on the same hook inputs, without
loading the CLI's typer/rich (nor, when nothing needs the detectors, pydantic)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from test_guard_hook import (  # noqa: F401 - the same skip reason, and the hook's workers stopped after each test
    ERROR, FAILING, FIXTURE, Transcript, pytestmark, stop_hook_workers,
)

from mastlens.guard.hook import load_state
from mastlens.guard.hook_worker import settled

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}
CLI = [sys.executable, "-m", "mastlens", "guard", "claude-code"]
LIGHT = [sys.executable, "-m", "mastlens.cli.guard"]
# runs the light entry in-process and reports which of the heavy packages it loaded
PROBE = ("import sys\nfrom mastlens.cli.guard import hook_call\ncode = hook_call(sys.argv[1:])\n"
         "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'click', 'pydantic'})\n"
         "print(code, ' '.join(heavy))")


def run(command: list[str], event: dict | bytes, state: Path) -> subprocess.CompletedProcess:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return subprocess.run([*command, "--state-dir", str(state)], input=body, capture_output=True, env=ENV, timeout=60)


def kept_state(state: Path) -> dict:
    """What a state folder holds, comparable across two folders: the quick path's JSON, the full path's
    session state (offsets, lines, last block, blocks), and which markers exist."""
    assert settled(state)  # a worker that answered writes the states it keeps (when asked, or idle)
    kept: dict = {}
    for path in sorted(state.iterdir()):
        if path.suffix == ".pickle":
            s = load_state(path)
            kept[path.name] = (s.offset, s.inode, s.lines, s.last_block, s.blocks,
                               sorted(s.feed.sessions) if s.feed else None)
        elif path.name.endswith(".quick.json"):
            kept[path.name] = json.loads(path.read_text())
        elif path.name not in ("errors.log", "worker"):  # the worker's socket and lock: not the session's state
            kept[path.name] = path.read_bytes()
    return kept


def test_the_light_entry_decides_as_the_cli_does(tmp_path):
    """One session driven through every decision the hook makes; after each step, both entries (each with
    its own state folder) are given the same hook input: same exit code, same reason, same state."""
    t = Transcript(tmp_path / "session.jsonl")
    cli_state, light_state = tmp_path / "cli", tmp_path / "light"
    pre = t.event("PreToolUse", tool_name="Bash", tool_input=FAILING)
    codes = []

    def both(event: dict | bytes) -> None:
        a, b = run(CLI, event, cli_state), run(LIGHT, event, light_state)
        assert (a.returncode, a.stderr) == (b.returncode, b.stderr), event
        assert kept_state(cli_state) == kept_state(light_state), event
        codes.append(a.returncode)

    both(pre)  # nothing failed yet
    both(t.event("PreToolUse", tool_name="Read", tool_input={"file_path": "README.md"}))
    t.call("Bash", FAILING, ERROR, is_error=True)
    both(t.event("PostToolUse", tool_name="Bash", tool_input=FAILING, tool_response={"stdout": ERROR}))
    both(pre)  # once failed: retrying is fair
    t.call("Bash", FAILING, ERROR, is_error=True)
    both(pre)  # the third identical failing call: blocked
    both(pre)  # the same reason again: let through
    both(pre)  # and blocked again after that
    both(t.event("PreToolUse", tool_name="Bash", tool_input={"command": "cat package.json"}))
    t.call("Edit", {"file_path": "/Users/test/project/src/app.py", "old_string": "retries = 1",
                    "new_string": "retries = 3"}, "The file /Users/test/project/src/app.py has been updated.")
    t.say("I changed the retry count to 3 in src/app.py; the flaky upload is fixed now.")
    both(t.event("Stop", stop_hook_active=False))  # an unverified change
    both(t.event("Stop", stop_hook_active=True))
    both(b"not json")
    t.lines = t.lines[:4]  # the transcript rewritten shorter
    t.write()
    both(pre)
    assert codes == [0, 0, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0]


def test_the_light_entry_loads_no_cli_and_pydantic_only_for_a_decision(tmp_path):
    """Without the worker (decisions made in the hook's own process): the detectors load only to decide."""
    t = Transcript(tmp_path / "session.jsonl")
    state = tmp_path / "state"
    t.call("Bash", {"command": "ls"}, "README.md")

    def probe(event: dict, *args: str) -> tuple[str, str]:
        out = subprocess.run([sys.executable, "-c", PROBE, "--state-dir", str(state), *args], timeout=60,
                             input=json.dumps(event).encode(), capture_output=True, check=True,
                             env={**ENV, "MASTLENS_GUARD_WORKER": "0"})
        code, _, heavy = out.stdout.decode().strip().partition(" ")
        return code, heavy

    # a call that repeats nothing: neither the CLI nor the trace model
    assert probe(t.event("PreToolUse", tool_name="Bash", tool_input={"command": "cat README.md"})) == ("0", "")
    again = t.event("PreToolUse", tool_name="Bash", tool_input={"command": "ls"})
    # the k the rules config sets is not known yet: a repeat of the last call goes to the detectors
    assert probe(again) == ("0", "pydantic")
    # a stop needs the detectors (pydantic behind the trace model), still not the CLI
    assert probe(t.event("Stop", stop_hook_active=False)) == ("0", "pydantic")
    # k = 3 now known: a second identical call cannot be the third in a row
    assert probe(again) == ("0", "")
    t.call("Bash", {"command": "ls"}, "README.md")
    assert probe(again) == ("0", "pydantic")  # a third one could be
    # another rules config (k = 2): the quick path does not assume the old k for it
    config = tmp_path / "rules.toml"
    config.write_text("[rules]\nrepeat_min_calls = 2\n")
    t.call("Bash", {"command": "pwd"}, "/Users/test/project")
    pwd = t.event("PreToolUse", tool_name="Bash", tool_input={"command": "pwd"})
    assert probe(pwd, "--rules-config", str(config)) == ("0", "pydantic")
    assert not (state / "worker").exists()  # no worker was started


def test_a_repeat_threshold_kept_for_a_changed_config_is_not_used(tmp_path):
    from mastlens.guard.hook_quick import remember_repeat_threshold, repeat_threshold

    config = tmp_path / "rules.toml"
    config.write_text("[rules]\nrepeat_min_calls = 4\n")
    remember_repeat_threshold(tmp_path, config, 4)
    assert repeat_threshold(tmp_path, config) == 4
    assert repeat_threshold(tmp_path, None) == 2  # the default config's k was never seen
    config.write_text("[rules]\nrepeat_min_calls = 2  # edited\n")
    assert repeat_threshold(tmp_path, config) == 2


def test_the_light_entry_never_blocks_on_its_own_errors(tmp_path):
    state = tmp_path / "state"
    bad_option = subprocess.run([*LIGHT, "--no-such-option"], input=b"{}", capture_output=True, timeout=60,
                                env={**ENV, "MASTLENS_GUARD_STATE": str(state)})
    assert bad_option.returncode == 0 and b"not blocking" in bad_option.stderr
    assert "no-such-option" in (state / "errors.log").read_text()
    crash = run(LIGHT, b"[1, 2]", state)
    assert crash.returncode == 0 and b"not a JSON object" in crash.stderr


def test_the_script_and_the_settings_run_the_light_entry(tmp_path):
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["mastlens-guard-hook"].partition(":")
    assert (module, function) == ("mastlens.cli.guard", "hook_main")
    printed = subprocess.run([*CLI, "--print-settings"], capture_output=True, env=ENV, check=True)
    commands = {h["command"] for groups in json.loads(printed.stdout)["hooks"].values() for g in groups
                for h in g["hooks"]}
    assert commands == {"mastlens-guard-hook"}
    # a settings file set up by an earlier version (the whole CLI as the hook) gets the light entry instead
    settings = tmp_path / "settings.json"
    old = {"type": "command", "command": "mastlens guard claude-code", "timeout": 10}
    mine = {"type": "command", "command": "my-linter"}
    settings.write_text(json.dumps({"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [old, mine]}],
                                              "Stop": [{"hooks": [old]}]}}))
    subprocess.run([*CLI, "--install", str(settings)], capture_output=True, env=ENV, check=True)
    hooks = json.loads(settings.read_text())["hooks"]
    assert hooks["PreToolUse"] == [{"matcher": "*", "hooks": [mine]},
                                   {"matcher": "*", "hooks": [{**old, "command": "mastlens-guard-hook"}]}]
    assert hooks["Stop"] == [{"hooks": [{**old, "command": "mastlens-guard-hook"}]}]
