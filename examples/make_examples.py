"""Regenerate the bundled examples (deterministic): ``python examples/make_examples.py``.

Writes ``examples/itbench/<model>/<scenario>/<run>/`` run folders: a Codex rollout under ``sessions/``,
``agent_output.json`` (unless the run never wrote one) and ``judge_output.json``. See README.md here for
what each run contains. It also writes the chat-format examples (``examples/chat/``, see chat_runs.py).

Each model gets 12 runs, at least 5 successes and 5 failures, in its own mix of patterns (``MIXES``), so
``mastlens analyze examples/`` shows a prevalence in each assessed cell and a different failure signature
per model. The nine first runs are the hand-picked ones the README's table describes.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from chat_runs import write_chat_examples  # noqa: E402
from itbench_runs import write_run  # noqa: E402

# (model folder, model id in the rollout, scenario, run, pattern)
RUNS = [
    ("gemini-3-flash", "gemini-3-flash-preview", "scenario_2", "1", "clean"),
    ("gemini-3-flash", "gemini-3-flash-preview", "scenario_3", "1", "clean"),
    ("gemini-3-flash", "gemini-3-flash-preview", "scenario_2", "2", "ignored_error"),
    ("kimi-k2", "kimi-k2-thinking", "scenario_2", "1", "turn_limit"),
    ("kimi-k2", "kimi-k2-thinking", "scenario_3", "1", "no_output"),
    ("kimi-k2", "kimi-k2-thinking", "scenario_2", "2", "remediation"),
    ("gpt-oss-120b", "gpt-oss-120b", "scenario_2", "1", "loop"),
    ("gpt-oss-120b", "gpt-oss-120b", "scenario_3", "1", "empty_entities"),
    ("gpt-oss-120b", "gpt-oss-120b", "scenario_2", "2", "task_reissued"),
]
MODEL_IDS = {"gemini-3-flash": "gemini-3-flash-preview", "kimi-k2": "kimi-k2-thinking", "gpt-oss-120b": "gpt-oss-120b"}
# model folder -> the patterns of its runs after the hand-picked ones (scenarios alternate, runs numbered on)
MIXES = {
    "gemini-3-flash": ["clean", "recovered_error", "ignored_error", "recovered_error", "no_output",
                       "recovered_error", "ignored_error", "no_output", "ignored_error"],
    "kimi-k2": ["remediation", "recovered_error", "turn_limit", "recovered_error", "ignored_error",
                "remediation", "turn_limit", "recovered_error", "ignored_error"],
    "gpt-oss-120b": ["recheck", "empty_entities", "recovered_error", "loop", "clean", "empty_entities",
                     "recheck", "task_reissued", "recovered_error"],
}


def _mixed_runs() -> list[tuple[str, str, str, str, str]]:
    runs = []
    for folder, patterns in MIXES.items():
        numbers = Counter(scenario for f, _, scenario, _, _ in RUNS if f == folder)
        for i, pattern in enumerate(patterns):
            scenario = ("scenario_2", "scenario_3")[i % 2]
            numbers[scenario] += 1
            runs.append((folder, MODEL_IDS[folder], scenario, str(numbers[scenario]), pattern))
    return runs


RUNS += _mixed_runs()


def main(out: Path = HERE / "itbench") -> None:
    if out.exists():
        shutil.rmtree(out)
    for i, (folder, model, scenario, run, pattern) in enumerate(RUNS):
        facts = write_run(out / folder / scenario / run, model=model, scenario=scenario, pattern=pattern, seed=i)
        print(f"{folder}/{scenario}/{run}: {pattern}, {facts.tool_calls} tool calls, recall {facts.recall:g}")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{len(RUNS)} runs, {total:,} bytes in {out}")


if __name__ == "__main__":
    main()
    print(f"chat examples in {write_chat_examples(HERE / 'chat')}")
