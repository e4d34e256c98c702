"""The offline rules judge (``--judge rules``): deterministic MAST detectors with evidence.

Each detector reads the trace's structure (tool calls and results, exit codes, the agent's own words,
the instructions, how the run ended) and says present, absent or not_assessed, quoting the steps it
relies on. Precision first: a mode is present only when the pattern is unmistakable, absent only when
the detector had something to look at, and not_assessed otherwise.

=======  ==========================================================================================
FM-1.1   a state change the run's own instructions gate on the user's explicit confirmation, made
         without the user agreeing first
FM-1.2   cluster-changing commands on a task the instructions call read-only / diagnose-only
FM-1.3   the same call and result back to back, a block of calls cycling with the same results, the
         same tool failing with the same error again, the same message getting the same reply, or the
         team's own progress ledger saying it is in a loop
FM-1.5   the run ends inside a loop, stops mid-work (on a tool result nobody read, on code never run),
         hits a limit (a step or a recorded stop reason), keeps calling tools after its answer, or a
         team ends stuck on one agent's same prompt sent again and again whatever the reply
FM-2.1   the run starts over: the opening task issued again by the user after the agent had started on
         it, the harness starting a new session mid-run, or a team's opening turn sent again nearly word
         for word after the others had acted
FM-2.5   a failed tool call followed by a success claim with no acknowledgement (tool errors ignored); a
         lone agent's words between its calls are work in progress, only its closing words count
FM-3.1   required output missing or empty (ITBench ``agent_output.json``), plan items left, a closing
         message that only promises the next step, a submission after the agent's own words set part of
         the task aside with no change after them, or a stop right after a crash or an unowned failure
FM-3.2   a final answer after a state change nothing looked at again, a required check never run, a
         rejected change committed again without a look-up, an answer no passing tool check backs, or
         a teammate's result called verified (or a request satisfied) with no check of one's own, or a
         team's answer (or finishing call) taking over the result handed to it with no check between, or a
         submission (a patch) with nothing run or read after the last file change
FM-3.3   confirmation claimed after a failed tool call, or success claimed on the very call that failed
         (v7 dropped the v5 rule on writes whose returned record contradicts their arguments: it did not
         hold on held-out runs)
=======  ==========================================================================================

Each detector states its precondition (the evidence it needs); when it holds the answer is present or
absent, otherwise not_assessed, and a trace recorded without content (``metadata["content_captured"]``
False) is not assessed. The verdict's ``decisive_step``/``decisive_agent`` follow the rule in
:mod:`mastlens.judges.rules.decisive`. The other modes (1.4, 2.2, 2.3, 2.4, 2.6) need reading the
run and are always not_assessed.
Thresholds live in :class:`RulesConfig`; its fingerprint is the annotation set's prompt hash. A present
verdict's confidence is its detector's precision on the dev sets' validation runs (:mod:`.precision`).
"""

from mastlens.judges.rules.config import DEFAULT_CONFIG, RulesConfig, RulesConfigError, load_rules_config
from mastlens.judges.rules.judge import DETECTORS, RulesJudge, judge_trace

__all__ = ["DEFAULT_CONFIG", "DETECTORS", "RulesConfig", "RulesConfigError", "RulesJudge", "judge_trace",
           "load_rules_config"]
