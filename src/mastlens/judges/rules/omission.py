"""A part of the task the agent says it left out, then submitted anyway (an FM-3.1 signal).

A run that ends by submitting its work (a patch) claims the task is done. When the agent's own words, with no
change after them, say it chose to leave part of the request unhandled ("I won't try to fix this as it's out of
scope", "I decided not to fix the many-to-many case", "despite the issue asking for it"), the submission ends the
task before its objective was met, by the agent's own account. Only words after the last change count: a part
declared out of scope and then changed anyway was not left out. Read from the agent's own messages; tool output
and commands are not read.
"""

from __future__ import annotations

import re

from mastlens.judges.rules.commands import last_file_edit
from mastlens.judges.rules.termination import submission
from mastlens.judges.rules.view import TraceView
from mastlens.trace import Step, StepKind

# The agent setting part of the request aside by choice (not a limit it hit, not a question to the user).
DECLARED_OMISSION = re.compile(
    r"\b(?:out of|outside(?: of)?|beyond) (?:the )?scope\b"
    r"|\b(?:decided|chose|choosing|choose) not to\b"
    r"|\b(?:won't|will not|I'm not going to|I am not going to) (?:try to )?"
    r"(?:fix|handle|address|support|implement|cover)\b"
    r"|\bnot (?:explicitly )?(?:requested|asked for)\b"
    r"|\bdespite the (?:PR|issue|task|request)\b",
    re.IGNORECASE)


def declared_omission(view: TraceView) -> tuple[Step, str] | None:
    """(message, words) for the first message of the agent, after its last change and before the run's
    submission, that says it left part of the task out; None when the run does not end by submitting or no
    such message follows the last change."""
    submitted = submission(view)
    if submitted is None:
        return None
    edit = last_file_edit([c for c in view.calls if c.step.index < submitted.step.index])
    last_change = edit[1].step.index if edit is not None else -1
    for step in view.agent_steps:
        if step.kind is not StepKind.ASSISTANT or not (last_change < step.index < submitted.step.index):
            continue
        match = DECLARED_OMISSION.search(step.content[:20_000])
        if match:
            return step, match.group(0)
    return None
