"""The judge replay harness end to end: dump the requests, answer some of them, replay through a real local endpoint.

The harness runs as a script on a small copy of dev-set runs in a temporary folder (a few tau-bench records and
Who&When files read from ../shared, never copied into the repository); the answers are scripted verdicts quoting the
trace, one is left out and one is unusable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import quoting_verdict, trace_steps

REPO = Path(__file__).resolve().parent.parent
DEVSETS = REPO.parent / "shared" / "devsets"
SCRIPT = REPO / "bench" / "bench_judge_replay.py"

pytestmark = pytest.mark.skipif(not (DEVSETS / "tau_bench").exists() or not (DEVSETS / "who_and_when").exists(),
                                reason="the dev sets are not in ../shared/devsets")


def _small_shared(root: Path) -> Path:
    """Two failed and two successful tau-bench runs and four Who&When records, laid out as ../shared is."""
    records = json.loads((DEVSETS / "tau_bench" / "gpt-4o-airline.dev.json").read_text(encoding="utf-8"))
    picked = [r for r in records if r["reward"] == 1.0][:2] + [r for r in records if r["reward"] != 1.0][:2]
    tau = root / "devsets" / "tau_bench"
    tau.mkdir(parents=True)
    (tau / "airline.json").write_text(json.dumps(picked), encoding="utf-8")
    for subset, names in (("Hand-Crafted", ("6.json", "22.json")), ("Algorithm-Generated", ("1.json", "4.json"))):
        folder = root / "devsets" / "who_and_when" / subset
        folder.mkdir(parents=True)
        for name in names:
            shutil.copy(DEVSETS / "who_and_when" / subset / name, folder / name)
    return root


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def _requests(folder: Path) -> dict[str, dict]:
    return {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.request.json")}


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    return _small_shared(tmp_path / "shared")


def test_dump_answer_replay(shared: Path, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    common = ["--shared", str(shared), "--split", "all", "--sample", "all"]
    done = _run("--dump", str(dump), *common)
    assert done.returncode == 0, done.stderr
    requests = _requests(dump)
    assert len(requests) == 8, sorted(requests)  # one window per run
    names = " ".join(p.name for p in dump.iterdir())
    index = (dump / "INDEX.md").read_text(encoding="utf-8")
    meta = (dump / "meta.json").read_text(encoding="utf-8")
    for leak in ("tau-", "Hand-Crafted", "Algorithm-Generated", "reward", "mistake", "success", "fail"):
        assert leak not in names and leak not in index and leak not in meta, leak
    for key, record in requests.items():
        assert record["hash"] == key and record["answer_file"] == f"{key}.answer.json"
        assert [m["role"] for m in record["messages"]] == ["system", "user"]
        assert record["response_format"]["type"] == "json_schema"
        assert f"`{key}.request.json`" in index
    # the static system prompt comes first and is the same in every request (prefix caching)
    assert len({r["messages"][0]["content"] for r in requests.values()}) == 1

    keys = sorted(requests)
    unanswered, unusable = keys[0], keys[1]
    for key in keys[2:]:
        (dump / f"{key}.answer.json").write_text(json.dumps(quoting_verdict(requests[key])), encoding="utf-8")
    (dump / f"{unusable}.answer.txt").write_text("I think the run went fine.", encoding="utf-8")

    done = _run("--answers", str(dump), *common, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["traces"] == 8 and out["annotated"] == 6 and out["errors"] == 2
    assert out["served"] == 7 and out["unanswered_requests"] == 2  # the missing one, and the unusable one's retry
    tau, ww = out["sources"]["tau-bench"], out["sources"]["who&when"]
    assert tau["counts"]["traces"] == 4 and ww["counts"]["traces"] == 4
    assert tau["counts"]["errors"] + ww["counts"]["errors"] == 2
    assert tau["counts"]["unanswered"] + ww["counts"]["unanswered"] == 2
    fig = tau["figures"]
    assert fig["kind"] == "outcome" and fig["n"] == tau["counts"]["annotated"]
    assert sum(fig["modes_on_success"].values()) + sum(fig["modes_on_failed"].values()) == fig["n"]  # FM-1.3 each
    assert ww["figures"]["kind"] == "localization" and ww["figures"]["n"] == ww["counts"]["annotated"]

    # a second dump adds the corrective retry the unusable answer leads to, with that answer in its messages
    done = _run("--dump", str(dump), *common, "--settle", "0")
    assert done.returncode == 0, done.stderr
    after = _requests(dump)
    [retry] = [r for k, r in after.items() if k not in requests]
    assert [m["role"] for m in retry["messages"]] == ["system", "user", "assistant", "user"]
    assert retry["messages"][2]["content"] == "I think the run went fine."
    assert retry["messages"][1] == requests[unusable]["messages"][1]
    assert "(answered)" in (dump / "INDEX.md").read_text(encoding="utf-8")


def test_unknown_sample_source_is_a_clear_error(shared: Path, tmp_path: Path) -> None:
    done = _run("--dump", str(tmp_path / "d"), "--shared", str(shared), "--sample", "nowhere=3")
    assert done.returncode == 2 and "nowhere=3" in done.stderr


def _localization_answer(request: dict) -> dict:
    """A second-pass answer naming the first agent the request lists, at the last step shown."""
    user = request["messages"][1]["content"]
    agents = user.split("as named in the step labels): ", 1)[1].split("\n", 1)[0].split(", ")
    steps = sorted(trace_steps(request))
    return {"decisive_step": steps[-1], "decisive_agent": agents[-1], "decisive_reason": "scripted"}


def test_two_pass_variant_and_answers_found_by_trace(shared: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "modes", tmp_path / "modes-localize"
    common = ["--shared", str(shared), "--split", "all", "--sample", "all"]
    assert _run("--dump", str(one), "--variant", "modes", *common).returncode == 0
    first = _requests(one)
    for key, request in first.items():
        (one / f"{key}.answer.json").write_text(json.dumps(quoting_verdict(request)), encoding="utf-8")

    # the two-pass variant, given the one-pass answers, asks its second question about every run that went wrong
    done = _run("--dump", str(two), "--variant", "modes-localize", "--also-answers", str(one), *common,
                "--settle", "0")
    assert done.returncode == 0, done.stderr
    second = _requests(two)
    assert len(second) == 8 and not set(second) & set(first)  # only the new questions: none completed its task
    assert all(r["response_format"]["json_schema"]["schema"]["required"][0] == "decisive_step" for r in second.values())
    assert json.loads((two / "meta.json").read_text(encoding="utf-8"))["two_pass"] is True
    for key, request in second.items():
        (two / f"{key}.answer.json").write_text(json.dumps(_localization_answer(request)), encoding="utf-8")
    done = _run("--answers", str(two), "--variant", "modes-localize", "--also-answers", str(one), *common, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["errors"] == 0 and out["served"] == 16 and out["matched_by_trace"] == 0
    assert all(r.get("trace_key") for r in second.values())  # placed by the rendered trace they carry

    # a second-pass answer written for another commit's request of the same run is found by trace too
    key, record = sorted(second.items())[0]
    (two / f"{key}.request.json").unlink()
    (two / f"{key}.answer.json").rename(two / "fedcba9876543210fedc.answer.json")
    record["hash"] = "fedcba9876543210fedc"
    (two / "fedcba9876543210fedc.request.json").write_text(json.dumps(record), encoding="utf-8")
    done = _run("--answers", str(two), "--variant", "modes-localize", "--also-answers", str(one), *common, "--json")
    out = json.loads(done.stdout)
    assert out["errors"] == 0 and out["matched_by_trace"] == 1

    # an answer written for another commit's request of the same trace window is found with --match trace
    key = sorted(first)[0]
    record = first[key]
    (one / f"{key}.request.json").unlink()
    (one / f"{key}.answer.json").rename(one / "0123456789abcdef0123.answer.json")
    record["hash"] = "0123456789abcdef0123"
    (one / "0123456789abcdef0123.request.json").write_text(json.dumps(record), encoding="utf-8")
    exact = json.loads(_run("--answers", str(one), "--variant", "modes", "--match", "exact", *common, "--json").stdout)
    assert exact["errors"] == 1 and exact["matched_by_trace"] == 0
    done = _run("--answers", str(one), "--variant", "modes", "--match", "trace", *common, "--json")
    by_trace = json.loads(done.stdout)
    assert by_trace["errors"] == 0 and by_trace["matched_by_trace"] == 1


def test_system_from_writes_a_dumps_requests_again_byte_for_byte(shared: Path, tmp_path: Path) -> None:
    common = ["--shared", str(shared), "--split", "all", "--sample", "all", "--sources", "tau-bench"]
    assert _run("--dump", str(tmp_path / "a"), "--variant", "modes", *common).returncode == 0
    done = _run("--dump", str(tmp_path / "b"), "--variant", "baseline", "--system-from", str(tmp_path / "a"), *common)
    assert done.returncode == 0, done.stderr
    a, b = _requests(tmp_path / "a"), _requests(tmp_path / "b")
    assert len(a) == 4 and a == b
