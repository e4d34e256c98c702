"""FM-3.2 no or incomplete verification."""

from __future__ import annotations

import os
import re
from functools import lru_cache

from mastlens.judges.rules.commands import (Change, call_commands, changes, checks, last_file_edit, runs_code,
                                            self_confirming)
from mastlens.judges.rules.config import RulesConfig
from mastlens.judges.rules.evidence import absent, cite_all, not_assessed, present
from mastlens.judges.rules.handover import Handover, handover
from mastlens.judges.rules.termination import submission
from mastlens.judges.rules.view import Call, TraceView
from mastlens.judges.rules.vouching import _VERIFY_INTENT, team_agents, verified_by_reading, vouches
from mastlens.trace import ModeVerdict, Step, StepKind

MODE = "FM-3.2"
_KNOWN_CHECKERS = {"jq", "pytest", "kubectl", "curl", "npm", "make", "go", "cargo", "tox", "ruff", "mypy", "python"}
REQUIRED_CHECK = re.compile(
    r"\b(?:validate|verify|check|test)\b[^.\n]{0,60}?\bwith\s+(?:`([^`\s]+)[^`]*`|(\w[\w.-]*))", re.IGNORECASE)


def unverified_changes(view: TraceView, before: Step) -> list[tuple[Call, Change]]:
    """Successful state changes that no later call (before ``before``) looked at."""
    out = []
    calls = [c for c in view.calls if c.step.index < before.index]
    for i, call in enumerate(calls):
        if call.failed:
            continue
        for change in changes(call):
            if change.kind == "api" and self_confirming(call):
                continue
            if not any(checks(later, change) for later in calls[i + 1:]):
                out.append((call, change))
    return out


def required_check(view: TraceView) -> tuple[Step, str, str] | None:
    """(instruction step, quoted phrase, program) when the instructions name the program that must
    check the result, e.g. "validate it with `jq`"."""
    for step in view.instructions:
        found = _required_in(step.content)
        if found is not None:
            return step, *found
    return None


@lru_cache(maxsize=256)
def _required_in(text: str) -> tuple[str, str] | None:
    """(phrase, program) of the first required check ``text`` names; cached, as runs of one agent share
    their instructions."""
    for match in REQUIRED_CHECK.finditer(text):
        program = (match.group(1) or match.group(2) or "").lower()
        if match.group(1) or program in _KNOWN_CHECKERS:
            return match.group(0), os.path.basename(program)
    return None


def _invoked(view: TraceView, program: str, before: Step) -> bool:
    """Whether ``program`` ran after the last attempted state change (and before ``before``): a check
    of a result needs the result first, so a run that never tried to write one never checked it."""
    calls = [c for c in view.calls if c.step.index < before.index]
    last_change = max((i for i, c in enumerate(calls) if changes(c)), default=None)
    if last_change is None:
        return False
    for call in calls[last_change + 1:]:
        commands = call_commands(call)
        if commands is None:
            if call.tool.lower() == program:
                return True
        elif any(os.path.basename(tokens[0]) == program for tokens in commands):
            return True
    return False


def blind_retries(view: TraceView, before: Step | None = None) -> list[tuple[Call, Call]]:
    """(rejected, retried) pairs: a state-changing call that failed (the system refused it), then the same
    tool committed successfully with no look-up in between (only other writes or the reasoning tools of
    ``RulesConfig.reasoning_tools``, which look nothing up; the user may have answered questions). The
    system's own validation caught an attempt the agent had not checked, and the revised change went in
    without a check either."""
    thinking = {t.lower() for t in view.config.reasoning_tools}
    out = []
    calls = [c for c in view.calls if before is None or c.step.index < before.index]
    for i, call in enumerate(calls):
        if not call.failed or not changes(call):
            continue
        for later in calls[i + 1:]:
            if not changes(later) and later.tool.lower() not in thinking:
                break  # a look-up in between: the agent checked before retrying
            if later.tool == call.tool and not later.failed:
                out.append((call, later))
                break
    return out


def unchecked_answer(view: TraceView, final: Step) -> bool:
    """Whether the final answer stands on no passing tool check: the run could use tools but none
    succeeded before the answer; when the only sign of tools is the instructions, only after the user
    asked ``no_check_min_user_turns`` times (a one-question chat may need no look-up)."""
    if not view.has_tools or any(not c.failed and c.result is not None and c.step.index < final.index
                                 for c in view.calls):
        return False
    if view.calls or not view.tools_offered:
        return True
    users = sum(1 for s in view.trace.steps if s.kind is StepKind.USER and s.index < final.index)
    return users >= view.config.no_check_min_user_turns


def _intent(step: Step) -> str | None:
    match = _VERIFY_INTENT.search(step.content[:6000])
    return match.group(0) if match else None


def detect_no_verification(view: TraceView, config: RulesConfig) -> ModeVerdict:
    """No or incomplete verification: the agent gives its final answer after a state change (a cluster
    write, a file write or edit, a write through an API) that no later call looked at (no read-back,
    no test run, no re-query); the instructions name the program that must check the result
    ("validate it with `jq`") and it was never run; a change the system rejected is committed again on a
    guess (the same tool, new arguments, nothing looked up in between); the run could use tools (it
    has calls or an executor) and gives its final answer without a single passing tool check; or, in a
    team, an agent declares a teammate's result verified (or the request satisfied) with no check of its
    own since that result came in, or sets out to verify after the last tool call and never runs one
    (:mod:`.vouching`); or a team ends on an answer (or a finishing call such as ``complete_task()``) that
    takes over the result handed to it (a teammate's report, an execution's output) with nothing checking
    it in between (:mod:`.handover`).

    Precondition: a final answer (or a team's finishing call), and tools, a team or a required check. Ignores failed writes (nothing changed),
    API writes whose own result returns the changed record, and checks that ran but were inadequate
    (that is FM-3.3)."""
    if not view.content_captured:
        return not_assessed(MODE, "the trace was recorded without content: results cannot be read")
    final = view.final_answer
    submitted = submission(view) if final is None else None
    if submitted is not None:
        return _submitted_unchecked(view, submitted, config)
    adopted = handover(view)
    if final is None:
        if adopted is None:
            return not_assessed(MODE, "the run has no final answer to check against")
        if adopted.result is None:
            return absent(MODE, 0.6, f"the team ended on a finishing call; {adopted.why}")
        return _adopted_unchecked(adopted, config)
    unchecked = unverified_changes(view, final)
    required = required_check(view)
    missing_check = required is not None and not _invoked(view, required[2], final)
    retried = blind_retries(view, final)
    no_check = unchecked_answer(view, final)
    vouched = [v for v in vouches(view) if v.claim.index <= final.index]
    reread = [s for s in verified_by_reading(view) if s.index <= final.index]
    took_over = adopted is not None and adopted.result is not None
    if not unchecked and not missing_check and not retried and not no_check and not vouched and not reread \
            and not took_over:
        if adopted is not None and not view.has_tools and required is None:
            return absent(MODE, 0.6, f"no teammate's result was called verified without a check, and {adopted.why}")
        if required is None and not view.has_tools and len(team_agents(view)) < 2:
            return not_assessed(MODE, "no tools, no team and no required check in this run")
        if not view.has_tools and required is None:
            return absent(MODE, 0.5, "no teammate called a result verified without a check of their own (the run "
                          "records no tool executions, so checks done by running code cannot be seen)")
        return absent(MODE, 0.7, "no change went unchecked or was retried blind, and tool checks passed before "
                      "the final answer" + (f"; the required `{required[2]}` check ran" if required else ""))
    pairs: list[tuple[Step, str | None]] = []
    reasons = []
    if retried:
        for rejected, again in retried:
            pairs += [(rejected.result or rejected.step, None), (again.step, None)]
        reasons.append("rejected change(s) committed again without a look-up (steps "
                       + ", ".join(f"{a.step.index}->{b.step.index}" for a, b in retried) + ")")
    if no_check:
        reasons.append("no tool check passed in the whole run")
    if vouched:
        for v in vouched[:3]:
            pairs += [(v.rests_on, None), (v.claim, v.words.strip('"'))]
        reasons.append("verification claimed without a check of the claimer's own (step(s) "
                       + ", ".join(str(v.claim.index) for v in vouched) + ")")
    if reread:
        pairs += [(s, _intent(s)) for s in reread[:3]]
        reasons.append("verification after the last tool call done by re-reading, no check run (step(s) "
                       + ", ".join(str(s.index) for s in reread) + ")")
    if took_over:
        pairs.append((adopted.result, None))
        reasons.append(f"the team's answer (step {adopted.answer.index}) takes over the result of step "
                       f"{adopted.result.index} with no check of it")
    if unchecked:
        pairs += [(call.step, min(change.targets) if change.targets else None) for call, change in unchecked]
        reasons.append("unchecked change(s) at step(s) " + ", ".join(str(c.step.index) for c, _ in unchecked)
                       + " (" + ", ".join(sorted({t for _, ch in unchecked for t in ch.targets} or {"an API record"}))
                       + ")")
    if missing_check:
        step, phrase, program = required
        pairs.append((step, phrase))
        reasons.append(f"the instructions require a `{program}` check that never ran")
    pairs.append((final, None))
    confidence = 0.8 if unchecked and any(ch.kind != "api" for _, ch in unchecked) else 0.7 if unchecked else 0.6
    return present(MODE, confidence, "; ".join(reasons) + f", then the final answer at step {final.index}",
                   cite_all(pairs, config.excerpt_chars))


def _adopted_unchecked(adopted: Handover, config: RulesConfig) -> ModeVerdict:
    """Present: a team that ended on a finishing call took over a handed-over result unchecked."""
    return present(MODE, 0.6, f"the team finished (step {adopted.answer.index}) on the result of step "
                   f"{adopted.result.index} with no check of it", cite_all([(adopted.result, None), (adopted.answer, None)],
                                                                          config.excerpt_chars))


def _submitted_unchecked(view: TraceView, submitted: Call, config: RulesConfig) -> ModeVerdict:
    """A run that ends by submitting its work (a patch, a diff): present when, after the last change to a
    file before the submission, nothing ran code (a test, a reproduction script) or read a changed file
    again. Removing files (cleanup of scratch scripts) is no change to check."""
    calls = [c for c in view.calls if c.step.index < submitted.step.index]
    edit = last_file_edit(calls)
    if edit is None:
        return not_assessed(MODE, "the run submitted without a file change the rules can see")
    last_i, last = edit
    changed = [ch for ch in changes(last) if ch.kind == "file" and not ch.removal]
    for later in calls[last_i + 1:]:
        commands = call_commands(later)
        if any(runs_code(tokens) for tokens in commands or []) or any(checks(later, ch) for ch in changed):
            return absent(MODE, 0.7, f"after the last file change (step {last.step.index}) step {later.step.index} "
                          "ran or read it again before the submission")
    targets = sorted({t for ch in changed for t in ch.targets}) or ["a file"]
    return present(MODE, 0.7, f"the last file change (step {last.step.index}: {', '.join(targets)}) was submitted at "
                   f"step {submitted.step.index} with no test, script run or read of it after the change",
                   cite_all([(last.step, targets[0] if targets[0] != "a file" else None), (submitted.step, None)],
                            config.excerpt_chars))
