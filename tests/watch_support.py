"""Shared by the watch tests: Codex rollouts written as an agent writes them (a real writer process), and
`mastlens watch` run as a real subprocess whose JSON lines are collected with their arrival times."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ERROR = "error: deployment \"web\" exceeded its progress deadline\n"


def _rec(n: int, rtype: str, payload: dict) -> str:
    return json.dumps({"timestamp": f"2026-08-01T10:{n // 60:02d}:{n % 60:02d}.000Z", "type": rtype,
                       "payload": payload}) + "\n"


def rollout_lines(session: str, k: int = 3, finish: bool = True) -> list[str]:
    """A Codex run that calls the same failing command ``k`` times, patches a file and says it is fixed
    without checking: the batch rules judge finds FM-1.3 and FM-3.2 in it."""
    out = [
        _rec(0, "session_meta", {"id": session, "timestamp": "2026-08-01T10:00:00.000Z", "cwd": "/work",
                                 "originator": "codex_exec", "cli_version": "0.80.0", "source": "exec",
                                 "instructions": "You are a coding agent. Fix the failing deployment."}),
        _rec(1, "turn_context", {"cwd": "/work", "model": "gpt-5-codex"}),
        _rec(2, "response_item", {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "The web deployment in namespace shop is failing. Fix it."}]}),
    ]
    for i in range(k):
        out.append(_rec(3 + 2 * i, "response_item", {
            "type": "function_call", "name": "shell", "call_id": f"call_{i}",
            "arguments": json.dumps({"command": ["bash", "-lc", "kubectl rollout status deploy/web -n shop"]})}))
        out.append(_rec(4 + 2 * i, "response_item", {
            "type": "function_call_output", "call_id": f"call_{i}",
            "output": json.dumps({"output": ERROR, "metadata": {"exit_code": 1, "duration_seconds": 0.4}})}))
    if finish:
        n = 3 + 2 * k
        out.append(_rec(n, "response_item", {"type": "function_call", "name": "apply_patch", "call_id": "call_p",
                                             "arguments": json.dumps({"input": "*** Begin Patch\n*** Update File: "
                                                                      "k8s/web.yaml\n@@\n-  image: web:1.2\n+  "
                                                                      "image: web:1.3\n*** End Patch"})}))
        out.append(_rec(n + 1, "response_item", {"type": "function_call_output", "call_id": "call_p", "output": json.dumps(
            {"output": "Success. Updated the following files:\nM k8s/web.yaml\n", "metadata": {"exit_code": 0}})}))
        out.append(_rec(n + 2, "response_item", {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "I updated the image in k8s/web.yaml to web:1.3, which fixes the failing deployment."}]}))
    return out


WRITER = r'''
import json, os, sys, time
plan = json.load(open(sys.argv[1]))
marks = open(sys.argv[2], "a")
for op in plan:
    if "sleep" in op:
        time.sleep(op["sleep"])
    elif "replace" in op:  # an editor's save: a new file renamed over the old one
        tmp = op["path"] + ".tmp-replace"
        with open(tmp, "w") as fh:
            fh.write(op["replace"])
        os.replace(tmp, op["path"])
    else:
        with open(op["path"], "a") as fh:
            fh.write(op["write"])
            fh.flush()
    if "mark" in op:
        marks.write(json.dumps({"mark": op["mark"], "time": time.time()}) + "\n")
        marks.flush()
'''


def run_writer(tmp: Path, plan: list[dict]) -> tuple[subprocess.Popen, Path]:
    """A real process carrying out ``plan`` (writes, pauses, replacements); marks go to the returned file."""
    script, plan_file, marks = tmp / "writer.py", tmp / "plan.json", tmp / "marks.jsonl"
    script.write_text(WRITER)
    plan_file.write_text(json.dumps(plan))
    marks.touch()
    return subprocess.Popen([sys.executable, str(script), str(plan_file), str(marks)]), marks


def read_marks(path: Path) -> dict[str, float]:
    return {m["mark"]: m["time"] for m in map(json.loads, path.read_text().splitlines())}


class Watch:
    """`mastlens watch ... --json` as a subprocess; its stdout lines collected with arrival times."""

    def __init__(self, *args: str, cwd: Path):
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.proc = subprocess.Popen([sys.executable, "-m", "mastlens", "watch", *args, "--json"], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.events: list[dict] = []
        self.stderr: list[str] = []
        self._q: queue.Queue = queue.Queue()
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            event = json.loads(line)
            event["_arrived"] = time.time()
            self._q.put(event)

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def wait_for(self, test, timeout: float = 30.0) -> dict:
        """The first event (already seen or to come) for which ``test`` holds."""
        for event in self.events:
            if test(event):
                return event
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                event = self._q.get(timeout=0.05)
            except queue.Empty:
                if self.proc.poll() is not None and self._q.empty():
                    break
                continue
            self.events.append(event)
            if test(event):
                return event
        raise AssertionError(f"no such event within {timeout} s; got {self.events}; stderr: {''.join(self.stderr)}")

    def wait_for_stderr(self, text: str, timeout: float = 10.0) -> str:
        """The first stderr line holding ``text``, waited for: stderr is read by its own thread, so a line the
        watch wrote before an alert line may be taken in after that alert was."""
        deadline = time.time() + timeout
        while True:
            found = next((line for line in list(self.stderr) if text in line), None)
            if found is not None:
                return found
            if time.time() >= deadline:
                raise AssertionError(f"no stderr line with {text!r} within {timeout} s: {''.join(self.stderr)}")
            time.sleep(0.02)

    def settle(self, seconds: float = 0.5) -> None:
        """Collect whatever arrives in the next ``seconds``."""
        end = time.time() + seconds
        while time.time() < end:
            try:
                self.events.append(self._q.get(timeout=0.05))
            except queue.Empty:
                pass

    def alerts(self, run: str | None = None) -> list[dict]:
        return [e for e in self.events if e["event"] == "alert" and (run is None or e["run"] == run)]

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(timeout=20)
        for reader in self._readers:  # the process is gone: both pipes end, so everything it wrote is read
            reader.join(timeout=10)
        self.settle(0.2)
