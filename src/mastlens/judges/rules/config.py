"""The rules judge's thresholds: one object, hashed into the annotation set so a change is visible."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mastlens.settings_file import read_settings

# Bump when a detector's logic changes, so sets written by older rules are told apart from newer ones.
RULES_VERSION = "11"


# Error shapes across formats: a line opening with an error word, Python tracebacks, the shell's complaints,
# execution-failed headers, HTTP 4xx/5xx status lines, API error objects.
DEFAULT_ERROR_PATTERNS: tuple[str, ...] = (
    r"^[ \t]*(?:error\b|exception\b|fatal\b|failed\b|permission denied)",
    r"traceback \(most recent call last\)",
    r"^[ \t]*\w*(?:Error|Exception): ",
    r"^[\w./-]+: (?:line \d+: )?(?:[\w./-]+|can(?:no|')t \w+ [^\n:]+): (?:command not found|No such file or directory"
    r"|Permission denied)[ \t]*$",
    r"\[Errno \d+\]",
    r"exit ?code:?[ \t]*[1-9]|\(execution failed\)|^[ \t]*execution failed\b",
    r"^[ \t]*HTTP/\d(?:\.\d)? [45]\d\d\b|(?:status(?: code)?|HTTP)[ :=]+[45]\d\d\b",
    r"^[ \t]*\{[ \t]*\"(?:error|errors)\"[ \t]*:",
)
DEFAULT_ERROR_DESPITE_EXIT_0: tuple[str, ...] = (
    r"traceback \(most recent call last\)",
    r"\[Errno \d+\]",
    r"^[\w./-]+: (?:line \d+: )?(?:[\w./-]+|can(?:no|')t \w+ [^\n:]+): (?:command not found|No such file or directory)"
    r"[ \t]*$",
)


class RulesConfig(BaseModel):
    """Thresholds of the offline detectors. Every field is a knob a user may tune; defaults favour
    precision (a mode is only called present when the pattern is unmistakable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repeat_min_calls: int = Field(3, ge=2, description=(
        "FM-1.3: this many consecutive identical tool calls (same tool, same normalized arguments) that "
        "also got identical results make step repetition. Two in a row is ordinary re-checking."))
    repeat_min_messages: int = Field(3, ge=2, description=(
        "FM-1.3: the same agent sending the same message (whitespace-normalized) this many times."))
    repeat_min_message_chars: int = Field(40, ge=1, description=(
        "FM-1.3: shorter messages ('OK', 'TERMINATE') are ignored when counting repeated messages."))
    loop_max_period: int = Field(4, ge=1, description=(
        "FM-1.5: the longest cycle of tool calls (in calls) searched for at the end of a run."))
    loop_min_cycles: int = Field(3, ge=2, description=(
        "FM-1.5: a cycle must repeat this many times, back to back, to count as a loop."))
    continue_after_final_min_calls: int = Field(2, ge=1, description=(
        "FM-1.5: tool calls made after the agent declared its final answer (with no new user input) "
        "that count as not knowing it was done."))
    error_head_chars: int = Field(300, ge=20, description=(
        "How much of a tool output's head is scanned for error markers when the format records no "
        "exit code or error flag (keeps MB-sized outputs cheap)."))
    excerpt_chars: int = Field(200, ge=20, description="Longest evidence quote, in characters.")
    error_patterns: tuple[str, ...] = Field(DEFAULT_ERROR_PATTERNS, description=(
        "Regular expressions (case-insensitive, multiline) that mark a tool output as failed when the format "
        "records no exit code or error flag; searched in the output's head (``error_head_chars``)."))
    error_patterns_despite_exit_0: tuple[str, ...] = Field(DEFAULT_ERROR_DESPITE_EXIT_0, description=(
        "The subset of error shapes that mark an output failed even when its exit code is 0 (a script that "
        "caught its own exception and printed it, a pipeline whose last command hid the failure)."))
    crash_patterns: tuple[str, ...] = Field((
        r"Traceback \(most recent call last\)", r"^\s*[\w.]*(?:Error|Exception): ", r"\bError code: [45]\d\d\b"),
        description=("FM-3.1: shapes of a crash in the tail of the run's last message or result (an agent or tool "
                     "that died mid-turn): a run that ends right after one stopped on an unresolved error."))
    no_check_min_user_turns: int = Field(3, ge=1, description=(
        "FM-3.2: an agent whose instructions give it tools but that never calls one is judged to answer "
        "unchecked once the user has spoken this many times."))
    reasoning_tools: tuple[str, ...] = Field(("think", "calculate", "calculator", "scratchpad"), description=(
        "Tools that compute or take notes but look nothing up in the world: FM-3.2 does not count them as "
        "checking before a rejected change is retried, FM-1.3 sees through them between failed retries."))
    repeat_min_cycles: int = Field(3, ge=2, description=(
        "FM-1.3: a block of calls (up to ``loop_max_period`` long) repeated this many times back to back, "
        "each time with the same results, anywhere in the run (A,B,A,B,A,B)."))
    repeat_min_failures: int = Field(2, ge=2, description=(
        "FM-1.3: the same tool failing with the same error this many times in a row (arguments may change): "
        "a retry that meets the error it already got learned nothing from it."))

    team_ending_sentences: int = Field(2, ge=1, description=(
        "FM-3.1: how many closing sentences of an autonomous team's last substantive turn are read for an open "
        "request, a promise or a give-up."))

    reset_min_similarity: float = Field(0.8, gt=0, le=1, description=(
        "FM-2.1: how alike (Jaccard of 4-word shingles) a team's later turn must be to the opening turn of the "
        "agent that opened the work to count as the plan started over; a re-plan that carries what was learned "
        "is far less alike."))
    reset_min_shingles: int = Field(20, ge=1, description=(
        "FM-2.1: the shortest opening turn (in 4-word shingles) compared; short or canned turns are no plan."))
    nudge_min_repeats: int = Field(3, ge=2, description=(
        "FM-1.5: how many times one agent must send the same prompt, each answered by another agent, in the "
        "closing stretch of a team's run for the team to be stuck on an auto-reply that never sees the task end."))

    def fingerprint(self) -> str:
        """A short hash of the thresholds and the detector version: the rules judge's 'prompt hash'."""
        body = json.dumps({"rules_version": RULES_VERSION, **self.model_dump()}, sort_keys=True)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


DEFAULT_CONFIG = RulesConfig()


class RulesConfigError(ValueError):
    """A rules configuration file that cannot be read or does not validate."""


def load_rules_config(path: str | Path) -> RulesConfig:
    """Thresholds from a TOML file of ``RulesConfig`` fields (a ``[rules]`` table or top-level keys)."""
    try:
        table = read_settings(path, "rules")
    except ValueError as exc:
        raise RulesConfigError(str(exc)) from None
    try:
        return RulesConfig.model_validate(table)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RulesConfigError(f"{path}: {problems}") from None
