"""Tool errors passed over: a failed call followed, with no acknowledgement, by the agent saying things
worked. Which MAST modes this evidences:

* FM-2.5 ignored other agent's input: for a single agent, the tool is the other party; its error report is
  input the agent disregards when it goes on as if nothing had been said.
* FM-3.3 incorrect verification: when what follows is a claim of confirmation (confirmed, verified,
  validated, fixed, resolved), or a success claim made straight after the failed call (nothing else done
  in between) that names what the call acted on ("your refund has been processed successfully" right
  after ``issue_refund`` answered "no refund was created"), the agent declares victory on evidence that
  says the opposite.

It is not FM-3.2: a check may well have run (and failed); the failure is in reading it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mastlens.judges.rules.config import RulesConfig
from mastlens.judges.rules.evidence import absent, cite_all, not_assessed, present
from mastlens.judges.rules.view import Call, TraceView
from mastlens.trace import Evidence, ModeVerdict, Step, StepKind

MODE_IGNORED = "FM-2.5"
MODE_INCORRECT = "FM-3.3"
ACKNOWLEDGED = re.compile(
    r"\b(?:errors?|fail\w*|not found|could not|couldn't|cannot|can't|unable|did not|didn't|no such|denied|issues?"
    r"|problems?|unavailable|not available|missing|retry(?:ing)?|instead|unfortunately|however|wrong|invalid"
    r"|read-only|does not exist|doesn't exist|not exist)\b", re.IGNORECASE)
SUCCESS = re.compile(
    r"\b(?:confirm(?:s|ed)|verified|validated|succeeded|successful(?:ly)?|resolved|fixed|completed|is complete"
    r"|(?:has|have|was|were|been|is) (?:written|created|applied|updated|saved)|written to|works)\b", re.IGNORECASE)
VERIFICATION_CLAIM = re.compile(r"\b(?:confirm(?:s|ed)|verified|validated|resolved|fixed|works)\b", re.IGNORECASE)
# A success word in a clause that negates it or leaves it pending ("not confirmed yet", "nothing is verified",
# "check whether it is resolved"), or in a question, is no claim.
_NOT_YET = re.compile(r"\b(?:not|no|nothing|never|yet|whether|before|until|unless|if|once|need(?:s|ed)? to|to be)\b"
                      r"|n't\b", re.IGNORECASE)
_CLAUSE_START = re.compile(r"[.;:!?\n]")


def success_claim(text: str) -> re.Match[str] | None:
    """The first success word in ``text`` that its own clause does not negate or leave pending."""
    for match in SUCCESS.finditer(text):
        start = max((m.end() for m in _CLAUSE_START.finditer(text, 0, match.start())), default=0)
        end = _CLAUSE_START.search(text, match.end())
        if not _NOT_YET.search(text[start:match.end()]) and not (end and end.group(0) == "?"):
            return match
    return None


@dataclass
class PassedOver:
    failure: Call
    claim: Step
    claim_word: str
    on_the_call: bool  # made straight after the failure (no other call between) and naming its subject


_WORD = re.compile(r"[a-z][a-z0-9]{3,}")
_GENERIC = {"bash", "shell", "command", "true", "false", "none", "null", "with", "from", "this", "that", "your",
            "have", "been", "will", "json", "text", "name", "type"}


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower())) - _GENERIC


def _subject(call: Call) -> set[str]:
    """The words naming what a call acted on: its tool name and its command or arguments."""
    return _words(call.tool.replace("_", " ") + " " + (call.step.content or str(call.step.arguments or "")))


def _head(call: Call) -> tuple[str, ...]:
    words = call.step.content.split()
    return (call.tool, *words[:2])


def autonomous_single_agent(view: TraceView) -> bool:
    """One agent working alone: nobody speaks after its first action and its messages carry one name (a coding
    or SRE agent, as opposed to a chat with a user or a team's conversation)."""
    started = False
    for step in view.trace.steps:
        if step.kind in (StepKind.TOOL_CALL, StepKind.ASSISTANT):
            started = True
        elif started and step.kind is StepKind.USER and step.content.strip():
            return False
    return len({s.agent for s in view.agent_steps if s.kind is StepKind.ASSISTANT}) <= 1


def _closing_step(view: TraceView) -> int:
    """The index after which a lone agent's words are its closing words: its last working tool call (a
    finishing call such as a submission aside)."""
    from mastlens.judges.rules.termination import ends_by_design  # it reads this module's claims

    last = next((c for c in reversed(view.calls) if not ends_by_design(c)), None)
    return (last.result or last.step).index if last is not None else -1


def passed_over(view: TraceView) -> tuple[list[PassedOver], int]:
    """(failures followed by an unacknowledged success claim, number of failed calls): computed once per trace
    (FM-2.5 and FM-3.3 both read it); see :func:`_passed_over`."""
    return view.once("passed_over", _passed_over)


def _passed_over(view: TraceView) -> tuple[list[PassedOver], int]:
    """(failures followed by an unacknowledged success claim, number of failed calls). For a lone agent
    (:func:`autonomous_single_agent`), only its closing words (after its last working call) are claims: its
    words between calls are work in progress (a reproduction that shows the bug, a try that did not work)."""
    failed = [c for c in view.calls if c.failed]
    closing = _closing_step(view) if failed and autonomous_single_agent(view) else None
    found = []
    for failure in failed:
        after = failure.result or failure.step
        for step in view.agent_steps:
            if step.index <= after.index:
                continue
            if ACKNOWLEDGED.search(step.content):
                break
            claim = success_claim(step.content)
            if claim and closing is not None and step.index < closing:
                continue  # a lone agent thinking aloud between its calls: work in progress, not a claim of done
            if claim:
                retried = any(c.step.index > after.index and c.step.index < step.index and not c.failed
                              and _head(c) == _head(failure) for c in view.calls)
                if not retried:
                    on_the_call = (not any(after.index < c.step.index < step.index for c in view.calls)
                                   and bool(_words(step.content) & _subject(failure)))
                    found.append(PassedOver(failure, step, claim.group(0), on_the_call))
                break
    return found, len(failed)


def _evidence(items: list[PassedOver], config: RulesConfig) -> list[Evidence]:
    pairs: list[tuple[Step, str | None]] = []
    for item in items:
        pairs.append((item.failure.result or item.failure.step, "error"))
        pairs.append((item.claim, item.claim_word))
    return cite_all(pairs, config.excerpt_chars)


def detect_ignored_tool_errors(view: TraceView, config: RulesConfig) -> ModeVerdict:
    """FM-2.5 ignored input: a tool call fails (error flag, non-zero exit code, an output opening with
    an error) and the agent's next words about it claim success without acknowledging the failure.

    Ignores: failures the agent names (error, failed, not found, cannot...) or works around with a
    successful retry of the same command before claiming anything; ignored input that is not an error."""
    if not view.content_captured:
        return not_assessed(MODE_IGNORED, "the trace was recorded without content: results cannot be read")
    items, n_failed = passed_over(view)
    if not n_failed:
        return not_assessed(MODE_IGNORED, "no failed tool call in this run")
    if not items:
        return absent(MODE_IGNORED, 0.6, f"all {n_failed} failed tool call(s) were acknowledged or retried")
    steps = ", ".join(str((i.failure.result or i.failure.step).index) for i in items)
    return present(MODE_IGNORED, 0.8, f"tool failure(s) at step(s) {steps} followed by a success claim "
                                      "with no acknowledgement", _evidence(items, config))


def detect_success_despite_errors(view: TraceView, config: RulesConfig) -> ModeVerdict:
    """FM-3.3 incorrect verification: as above, and the claim is one of confirmation (confirmed, verified,
    validated, fixed, resolved, works), or a success claim made directly after the failed call (no other
    call in between) that names what the call acted on: success declared on evidence that shows a failure.

    Precondition: a failed tool call whose output can be read (the evidence a claim could contradict). Then
    absent when no claim passes over one. Ignores plain success claims made after further calls or about
    something else (FM-2.5 only), and wrong conclusions drawn from good evidence (not visible to rules).
    (Rules v5-v6 also flagged an API write whose returned record gave back another value than asked, reported
    as done; dropped in v7: on held-out tau-bench runs it fired on more successful runs than failed ones, a
    quirk of the tool's record rather than an agent's failure.)"""
    if not view.content_captured:
        return not_assessed(MODE_INCORRECT, "the trace was recorded without content: results cannot be read")
    found, n_failed = passed_over(view)
    if not n_failed:
        return not_assessed(MODE_INCORRECT, "no failed tool call whose evidence a success claim could contradict")
    items = [i for i in found if i.on_the_call or VERIFICATION_CLAIM.search(i.claim_word)]
    if not items:
        return absent(MODE_INCORRECT, 0.6, f"no confirmation claimed over the {n_failed} failed tool call(s)")
    claims = ", ".join(sorted({str(i.claim.index) for i in items}))
    return present(MODE_INCORRECT, 0.75, f"success or confirmation claimed at step(s) {claims} after failed tool "
                   "call(s) that say otherwise", _evidence(items, config))
