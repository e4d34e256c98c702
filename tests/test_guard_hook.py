"""`mastlens guard claude-code`: the hook fed real hook JSON on stdin, over transcripts built from the Claude
Code fixture sessions (their own lines, then tool calls in the same line shape appended), as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mastlens.adapters.loader import read_file
from mastlens.guard.hook_worker import settled
from mastlens.judges.rules import judge_trace

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared" / "fixtures" / "claude_code" / "tool_call_conversation.jsonl"
pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason=f"{FIXTURE} not present (shared fixtures)")



def worker_pids(root: Path) -> list[int]:
    """The pids of the hook workers started for state folders under ``root``: the one serving each folder (in
    its lock file while it serves) and the one started there last (perhaps still starting)."""
    pids = set()
    for started in root.rglob("worker/worker.started"):
        for path in (started.with_name("worker.lock"), started):
            text = path.read_text().strip() if path.exists() else ""
            if text:
                pids.add(int(text.split()[0]))
    return sorted(pids)


@pytest.fixture(autouse=True)
def stop_hook_workers(tmp_path):
    """The hook starts a worker per state folder (it would wait out its idle time): stopped after the test."""
    yield
    for pid in worker_pids(tmp_path):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it had left already


FAILING = {"command": "npm test -- --runInBand"}
ERROR = "npm ERR! Missing script: \"test\"\n\nnpm ERR! To see a list of scripts, run:\nnpm ERR!   npm run"


class Transcript:
    """A Claude Code session file that grows as the agent acts, in the fixture's line shape."""

    def __init__(self, path: Path):
        self.path = path
        self.lines = [json.loads(x) for x in FIXTURE.read_text().splitlines() if x.strip()]
        self.template = next(x for x in self.lines if x["type"] == "assistant")
        self.session = self.template["sessionId"]
        self.n = 0
        self.write()

    def _line(self, kind: str, content: list) -> dict:
        self.n += 1
        line = {k: v for k, v in self.template.items() if k not in ("message", "uuid", "parentUuid")}
        line.update(type=kind, uuid=f"added-{self.n}", parentUuid=f"added-{self.n - 1}",
                    timestamp=f"2026-01-31T11:05:{self.n:02d}.000Z")
        role = "assistant" if kind == "assistant" else "user"
        line["message"] = {"role": role, "content": content}
        if role == "assistant":
            line["message"]["model"] = self.template["message"]["model"]
        return line

    def call(self, tool: str, args: dict, output: str, is_error: bool = False) -> None:
        call_id = f"toolu_added_{self.n}"
        self.lines.append(self._line("assistant", [{"type": "tool_use", "id": call_id, "name": tool, "input": args}]))
        result = {"type": "tool_result", "tool_use_id": call_id, "content": output}
        if is_error:
            result["is_error"] = True
        self.lines.append(self._line("user", [result]))
        self.write()

    def say(self, text: str) -> None:
        self.lines.append(self._line("assistant", [{"type": "text", "text": text}]))
        self.write()

    def write(self) -> None:
        self.path.write_text("".join(json.dumps(x) + "\n" for x in self.lines))

    def event(self, name: str, **extra) -> dict:
        return {"session_id": self.session, "transcript_path": str(self.path), "cwd": "/Users/test/project",
                "hook_event_name": name, **extra}


def hook(event: dict | bytes, state: Path, *args: str) -> subprocess.CompletedProcess:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "mastlens", "guard", "claude-code", "--state-dir", str(state), *args],
                          input=body, capture_output=True, env=env, timeout=60)


def _failed_twice(tmp_path: Path) -> tuple[Transcript, Path, dict]:
    """A session whose failing Bash call has failed twice, its hook state folder, and the PreToolUse event of
    that call made a third time."""
    t = Transcript(tmp_path / "session.jsonl")
    for _ in range(2):
        t.call("Bash", FAILING, ERROR, is_error=True)
    return t, tmp_path / "state", t.event("PreToolUse", tool_name="Bash", tool_input=FAILING)


def test_pre_tool_use_blocks_the_kth_repetition_of_a_failed_call(tmp_path):
    t = Transcript(tmp_path / "session.jsonl")
    state = tmp_path / "state"
    pre = t.event("PreToolUse", tool_name="Bash", tool_input=FAILING)
    assert hook(pre, state).returncode == 0  # nothing failed yet
    t.call("Bash", FAILING, ERROR, is_error=True)
    assert hook(pre, state).returncode == 0  # once failed: retrying is fair
    t.call("Bash", FAILING, ERROR, is_error=True)
    blocked = hook(pre, state)
    assert blocked.returncode == 2, blocked.stderr
    reason = blocked.stderr.decode()
    assert "FM-1.3" in reason and "Bash" in reason and "Missing script" in reason
    other = t.event("PreToolUse", tool_name="Bash", tool_input={"command": "cat package.json"})
    assert hook(other, state).returncode == 0  # a different call goes
    # the batch judge agrees the blocked call would have made the loop: the transcript plus that call
    t.call("Bash", FAILING, ERROR, is_error=True)
    trace = read_file(t.path).traces[0]
    assert judge_trace(trace).modes["FM-1.3"].status.value == "present"


def test_the_same_block_is_never_repeated_in_a_row(tmp_path):
    t, state, pre = _failed_twice(tmp_path)
    assert hook(pre, state).returncode == 2
    assert hook(pre, state).returncode == 0  # said once: the agent decides
    assert hook(pre, state).returncode == 2  # the last decision was not a block: it may block again


def test_stop_on_an_unverified_change_is_blocked_once(tmp_path):
    t = Transcript(tmp_path / "session.jsonl")
    state = tmp_path / "state"
    t.call("Edit", {"file_path": "/Users/test/project/src/app.py", "old_string": "retries = 1",
                    "new_string": "retries = 3"}, "The file /Users/test/project/src/app.py has been updated.")
    t.say("I changed the retry count to 3 in src/app.py; the flaky upload is fixed now.")
    expected = judge_trace(read_file(t.path).traces[0])
    stop = t.event("Stop", stop_hook_active=False)
    result = hook(stop, state)
    if expected.modes["FM-3.2"].status.value == "present" or expected.modes["FM-3.3"].status.value == "present":
        assert result.returncode == 2, result.stderr
        assert "FM-3.2" in result.stderr.decode() or "FM-3.3" in result.stderr.decode()
    else:
        assert result.returncode == 0
    assert expected.modes["FM-3.2"].status.value == "present"  # the scenario is one the batch judge flags
    # the agent was told: its next stop (stop_hook_active) always goes through
    assert hook(t.event("Stop", stop_hook_active=True), state).returncode == 0


def test_stop_follows_the_batch_judge_on_the_stopping_modes(tmp_path):
    """Read-only work, then a failed call and a success claim: the hook blocks exactly when the batch judge
    finds FM-3.2 or FM-3.3 on the transcript."""
    state = tmp_path / "state"
    t = Transcript(tmp_path / "a.jsonl")
    t.call("Bash", {"command": "git log --oneline -3"}, "a1b2c3 fix upload\nd4e5f6 add retries")
    t.say("The last commits are 'fix upload' and 'add retries'.")
    u = Transcript(tmp_path / "b.jsonl")
    u.session = "test-session-other"
    u.lines = [{**x, "sessionId": u.session} for x in u.lines]
    u.template = {**u.template, "sessionId": u.session}
    u.call("Bash", {"command": "python -m pytest tests -q"}, "FAILED tests/test_upload.py::test_retry - "
           "AssertionError\n1 failed, 3 passed", is_error=True)
    u.say("All tests pass now; the upload is verified.")
    for transcript in (t, u):
        verdict = judge_trace(read_file(transcript.path).traces[0])
        flagged = any(verdict.modes[m].status.value == "present" for m in ("FM-3.2", "FM-3.3"))
        result = hook(transcript.event("Stop", stop_hook_active=False), state)
        assert result.returncode == (2 if flagged else 0), (transcript.path.name, result.stderr)
    assert verdict.modes["FM-3.3"].status.value == "present"  # the second one is the batch judge's FM-3.3


def test_the_fixture_session_as_recorded_is_never_blocked(tmp_path):
    t = Transcript(tmp_path / "session.jsonl")
    state = tmp_path / "state"
    for name, extra in (("PreToolUse", {"tool_name": "Read", "tool_input": {"file_path": "README.md"}}),
                        ("PostToolUse", {"tool_name": "Read", "tool_input": {"file_path": "README.md"},
                                         "tool_response": {"content": "# My Project"}}),
                        ("Stop", {"stop_hook_active": False})):
        result = hook(t.event(name, **extra), state)
        assert result.returncode == 0, (name, result.stderr)
    assert settled(state)  # a worker that answered writes the states it keeps (when asked, or idle)
    assert list(state.glob("*.pickle"))  # the session's state was kept for the next call


def test_a_crash_inside_mastlens_never_blocks(tmp_path):
    state = tmp_path / "state"
    for body in (b"not json", json.dumps({"session_id": "s", "transcript_path": str(tmp_path),
                                          "hook_event_name": "PreToolUse", "tool_name": "Bash"}).encode()):
        result = hook(body, state)
        assert result.returncode == 0
    assert "not blocking" in hook(b"not json", state).stderr.decode()
    assert (state / "errors.log").read_text().count("JSONDecodeError") >= 1


def test_truncated_transcript_is_read_again(tmp_path):
    t, state, pre = _failed_twice(tmp_path)
    assert hook(t.event("PostToolUse", tool_name="Bash", tool_input=FAILING), state).returncode == 0
    t.lines = t.lines[:4]  # the session rewritten shorter: the failures are gone
    t.write()
    assert hook(pre, state).returncode == 0


def test_print_and_install_settings(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    run = [sys.executable, "-m", "mastlens", "guard", "claude-code"]
    printed = subprocess.run([*run, "--print-settings"], capture_output=True, env=env, check=True)
    snippet = json.loads(printed.stdout)
    assert set(snippet["hooks"]) == {"PreToolUse", "PostToolUse", "Stop"}
    assert snippet["hooks"]["PreToolUse"][0]["hooks"][0]["command"] == "mastlens-guard-hook"  # the light entry
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    mine = {"matcher": "Bash", "hooks": [{"type": "command", "command": "my-linter"}]}
    settings.write_text(json.dumps({"model": "opus", "hooks": {"PreToolUse": [mine]}}))
    for _ in range(2):  # merging twice adds the guard once
        subprocess.run([*run, "--install", str(settings)], capture_output=True, env=env, check=True)
    merged = json.loads(settings.read_text())
    assert merged["model"] == "opus"
    assert merged["hooks"]["PreToolUse"][0] == mine
    assert len(merged["hooks"]["PreToolUse"]) == 2 and len(merged["hooks"]["Stop"]) == 1


def test_subagent_stop_reads_the_subagents_own_transcript(tmp_path):
    main = Transcript(tmp_path / "session.jsonl")  # the main session: nothing to object to
    (tmp_path / "subagents").mkdir()
    sub = Transcript(tmp_path / "subagents" / "agent-1.jsonl")
    sub.call("Edit", {"file_path": "/Users/test/project/src/app.py", "old_string": "retries = 1",
                      "new_string": "retries = 3"}, "The file /Users/test/project/src/app.py has been updated.")
    sub.say("I changed the retry count to 3 in src/app.py; the flaky upload is fixed now.")
    assert judge_trace(read_file(sub.path).traces[0]).modes["FM-3.2"].status.value == "present"
    event = main.event("SubagentStop", stop_hook_active=False, agent_id="agent-1", agent_type="general-purpose",
                       agent_transcript_path=str(sub.path))
    blocked = hook(event, tmp_path / "state")
    assert blocked.returncode == 2 and "FM-3.2" in blocked.stderr.decode()
    assert hook(main.event("Stop", stop_hook_active=False), tmp_path / "state").returncode == 0
