"""The hook's warm worker: deciding calls (a k-th repeat, a Stop) answered by a background process that has
the detectors loaded, so the hook process itself loads no pydantic, with the same exit codes, reasons and
kept state as a decision made in the hook's own process (MASTLENS_GUARD_WORKER=0)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from test_guard_hook import (  # noqa: F401 - the same skip reason, and the hook's workers stopped after each test
    ERROR, FAILING, Transcript, pytestmark, stop_hook_workers,
)
from test_guard_hook_entry import ENV, LIGHT, PROBE, kept_state

from mastlens.guard.hook import load_state

IN_PROCESS = {**ENV, "MASTLENS_GUARD_WORKER": "0"}


def probe(event: dict, state: Path, *args: str, env: dict | None = None) -> tuple[int, str, str]:
    """(exit code, stderr, heavy packages the hook process loaded) of one light-entry hook call."""
    out = subprocess.run([sys.executable, "-c", PROBE, "--state-dir", str(state), *args], timeout=60,
                         input=json.dumps(event).encode(), capture_output=True, env=env or ENV, check=True)
    code, _, heavy = out.stdout.decode().strip().partition(" ")
    return int(code), out.stderr.decode(), heavy


def in_process(event: dict, state: Path) -> tuple[int, str]:
    out = subprocess.run([*LIGHT, "--state-dir", str(state)], input=json.dumps(event).encode(), timeout=60,
                         capture_output=True, env=IN_PROCESS)
    return out.returncode, out.stderr.decode()


def serving(state: Path, timeout: float = 60.0) -> int:
    """The pid of the worker serving ``state``, once its socket takes calls."""
    sock, lock = state / "worker" / "worker.sock", state / "worker" / "worker.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = lock.read_text().strip() if lock.exists() else ""
        if sock.exists() and text:
            return int(text.split()[0])
        time.sleep(0.05)
    raise AssertionError(f"no worker serves {state}")


def gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_deciding_calls_through_the_worker_load_no_pydantic_and_decide_as_in_process(tmp_path):
    t = Transcript(tmp_path / "session.jsonl")
    warm, cold = tmp_path / "worker", tmp_path / "in-process"
    pre = t.event("PreToolUse", tool_name="Bash", tool_input=FAILING)
    codes, reasons = [], []

    def both(event: dict) -> None:
        code, reason, heavy = probe(event, warm)
        assert (code, reason) == in_process(event, cold), event
        assert heavy == "", (event, heavy)  # the worker decided: neither pydantic nor the CLI in the hook
        assert kept_state(warm) == kept_state(cold), event
        codes.append(code)
        reasons.append(reason)

    assert probe(t.event("PreToolUse", tool_name="Read", tool_input={"file_path": "README.md"}), warm)[0] == 0
    in_process(t.event("PreToolUse", tool_name="Read", tool_input={"file_path": "README.md"}), cold)
    first = serving(warm)  # the quick call started it, in the background
    t.call("Bash", FAILING, ERROR, is_error=True)
    t.call("Bash", FAILING, ERROR, is_error=True)
    both(pre)  # the third identical failing call: blocked
    both(pre)  # the same reason again: let through
    t.call("Edit", {"file_path": "/Users/test/project/src/app.py", "old_string": "retries = 1",
                    "new_string": "retries = 3"}, "The file /Users/test/project/src/app.py has been updated.")
    t.say("I changed the retry count to 3 in src/app.py; the flaky upload is fixed now.")
    both(t.event("Stop", stop_hook_active=False))  # an unverified change
    both(t.event("Stop", stop_hook_active=True))
    t.say("Not verified yet: I could not run the upload test here.")
    both(t.event("Stop", stop_hook_active=False))
    assert codes[:4] == [2, 0, 2, 0]
    assert "FM-1.3" in reasons[0] and "FM-3.2" in reasons[2]
    assert serving(warm) == first  # one worker served every call
    assert not (cold / "worker").exists()


def test_a_killed_worker_is_replaced_and_its_decisions_stay_right(tmp_path):
    t = Transcript(tmp_path / "session.jsonl")
    state = tmp_path / "state"
    for _ in range(2):
        t.call("Bash", FAILING, ERROR, is_error=True)
    pre = t.event("PreToolUse", tool_name="Bash", tool_input=FAILING)
    assert probe(pre, state)[:1] == (2,)  # the first decision starts the worker and waits for it
    first = serving(state)
    os.kill(first, signal.SIGKILL)  # its socket file is left behind
    assert gone(first)
    code, reason, heavy = probe(pre, state)  # the same reason again: let through, by a new worker
    assert (code, heavy) == (0, "") and serving(state) != first
    code, reason, heavy = probe(pre, state)
    assert code == 2 and "FM-1.3" in reason and heavy == ""


def test_an_error_in_the_worker_never_blocks_and_is_logged(tmp_path):
    t = Transcript(tmp_path / "session.jsonl")
    state = tmp_path / "state"
    t.call("Bash", {"command": "ls"}, "README.md")
    bad = tmp_path / "rules.toml"
    bad.write_text("[rules\nrepeat_min_calls = ")
    code, reason, heavy = probe(t.event("Stop", stop_hook_active=False), state, "--rules-config", str(bad))
    assert code == 0 and "not blocking" in reason and heavy == ""
    assert "in the hook's worker" in (state / "errors.log").read_text()


def test_the_worker_leaves_when_idle_and_for_another_interpreter(tmp_path):
    t = Transcript(tmp_path / "session.jsonl")
    idle, other = tmp_path / "idle", tmp_path / "other"
    stop = t.event("Stop", stop_hook_active=False)
    assert probe(stop, idle, env={**ENV, "MASTLENS_GUARD_WORKER_IDLE": "1"})[0] == 0
    pid = serving(idle)
    assert gone(pid) and not (idle / "worker" / "worker.sock").exists()  # no call for a second: it left
    assert probe(stop, other)[0] == 0
    pid = serving(other)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(10)
    conn.connect(str(other / "worker" / "worker.sock"))
    conn.sendall(json.dumps({"protocol": 1, "executable": "/elsewhere/python", "package": "/elsewhere/mastlens",
                             "state_dir": str(other), "event": stop}).encode() + b"\n")
    assert json.loads(conn.makefile().readline()) == {"stale": True}
    conn.close()
    assert gone(pid)  # the caller decides in-process; the next decision starts a worker of its own mastlens
    code, _, heavy = probe(stop, other)
    assert (code, heavy) == (0, "") and serving(other) != pid


def test_the_worker_writes_the_states_it_keeps_once_it_has_a_quiet_moment(tmp_path):
    t = Transcript(tmp_path / "session.jsonl")
    state = tmp_path / "state"
    t.call("Bash", {"command": "ls"}, "README.md")
    assert probe(t.event("Stop", stop_hook_active=False), state)[0] == 0
    serving(state)
    deadline = time.monotonic() + 10
    while not list(state.glob("*.pickle")) and time.monotonic() < deadline:
        time.sleep(0.05)
    [kept] = state.glob("*.pickle")  # written without being asked
    assert load_state(kept).offset == t.path.stat().st_size  # everything read so far
