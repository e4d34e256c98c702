"""Rules judge, constructed traces: tool errors passed over (FM-2.5, FM-3.3), FM-1.2 role, FM-2.1 reset,
and the shell parsing the state-change detectors rely on."""

from __future__ import annotations

from rules_traces import READ_ONLY_TASK, TraceBuilder, evidence_steps, verdict_of

from mastlens.judges.rules.commands import changes, simple_commands
from mastlens.judges.rules.view import Call, call_key

NOT_FOUND = 'Error from server (NotFound): configmaps "flagd-cfg" not found'


def _failed_read() -> TraceBuilder:
    return TraceBuilder().shell("kubectl describe configmap flagd-cfg -n otel-demo", NOT_FOUND, exit_code=1)


# -- tool errors passed over -------------------------------------------------------------------------------
def test_failure_then_confirmation_is_ignored_input_and_incorrect_verification():
    trace = _failed_read().think("The flag configuration confirms cartFailure is on.").build()
    ignored, incorrect = verdict_of(trace, "FM-2.5"), verdict_of(trace, "FM-3.3")
    assert ignored.status.value == incorrect.status.value == "present"
    assert evidence_steps(ignored) == [2, 3]
    assert ignored.evidence[0].quote == NOT_FOUND and ignored.evidence[1].quote.startswith("The flag configuration")


def test_failure_then_a_plain_success_claim_is_ignored_input_only():
    trace = _failed_read().say("Diagnosis written to agent_output.json.").build()
    assert verdict_of(trace, "FM-2.5").status.value == "present"
    # v4 coverage rule: a failed call is FM-3.3's precondition, so a claim about something else is absent, not
    # not_assessed (FM-3.3 used to answer present or not_assessed only)
    assert verdict_of(trace, "FM-3.3").status.value == "absent"


def _failed_refund() -> TraceBuilder:
    return TraceBuilder("Refund my boots, order RO-7.").call(
        "issue_refund", {"order_id": "RO-7", "amount": 89.0},
        "Error: payment gateway timeout (504); no refund was created.")


def test_success_claimed_on_the_very_call_that_failed_is_incorrect_verification():
    trace = _failed_refund().say("Good news: your refund has been processed successfully.").build()
    v = verdict_of(trace, "FM-3.3")
    assert v.status.value == "present" and evidence_steps(v) == [2, 3]
    assert v.evidence[1].quote.startswith("Good news")


def test_plain_success_after_further_calls_is_not_judged_as_verification():
    b = _failed_refund().call("send_email", {"to": "c@example.com"}, '{"sent": true}')
    trace = b.say("Your refund has been processed successfully.").build()
    assert verdict_of(trace, "FM-2.5").status.value == "present"
    assert verdict_of(trace, "FM-3.3").status.value == "absent"  # v4: assessed (a failed call); may be about the e-mail


def test_acknowledged_failure_is_not_passed_over():
    trace = _failed_read().think("Wrong name, the ConfigMap is not found; try flagd-config.").say(
        "Confirmed: flagd-config enables cartFailure.").build()
    assert verdict_of(trace, "FM-2.5").status.value == "absent"
    assert verdict_of(trace, "FM-3.3").status.value == "absent"  # v4: a failed call meets the precondition


def test_a_negated_or_pending_success_word_is_no_claim():
    for text in ("The root cause is not confirmed yet; next I will read the cart logs.",
                 "Nothing is verified so far. Let me list the configmaps.",
                 "The patch has not been applied yet, so let me look at the deployment.",
                 "I still need to check whether the flag is on before this is resolved.",
                 "Root cause not yet validated."):
        trace = _failed_read().think(text).build()
        assert verdict_of(trace, "FM-2.5").status.value != "present", text
        assert verdict_of(trace, "FM-3.3").status.value == "absent", text  # v4: assessed, no claim
    # a real claim later in the run is still found, past the pending one
    trace = _failed_read().think("Not confirmed yet.").say("Confirmed: cartFailure is on.").build()
    v = verdict_of(trace, "FM-3.3")
    assert v.status.value == "present" and evidence_steps(v) == [2, 4]


def test_failure_worked_around_by_a_successful_retry_is_not_passed_over():
    b = _failed_read().shell("kubectl describe configmap flagd-config -n otel-demo", "cartFailure: on")
    assert verdict_of(b.say("Confirmed: cartFailure is on.").build(), "FM-2.5").status.value == "absent"


def test_errors_without_exit_codes_are_read_from_the_output_head():
    b = TraceBuilder().call("update_reservation_flights", {"id": "R1"}, "Error: flight HAT030 not available")
    assert verdict_of(b.say("Your reservation was updated successfully!").build(), "FM-2.5").status.value == "present"
    polite = TraceBuilder().call("update_reservation_flights", {"id": "R1"}, "Error: flight HAT030 not available")
    polite.say("It seems there is an issue with flight HAT030; shall I search for another one?")
    assert verdict_of(polite.build(), "FM-2.5").status.value == "absent"


def test_the_shells_command_not_found_is_a_failure_without_an_exit_code():
    b = TraceBuilder().call("bash", {"cmd": "whois 173.249.33.206"}, "bash: line 1: whois: command not found\n")
    assert verdict_of(b.say("Verified: the server is in Germany.").build(), "FM-2.5").status.value == "present"
    quoted = TraceBuilder().call("bash", {"cmd": "cat notes.txt"}, "notes: old script said whois: command not found")
    assert verdict_of(quoted.say("Verified: done.").build(), "FM-2.5").status.value == "not_assessed"


def test_grep_finding_nothing_is_an_answer_not_a_failure():
    b = TraceBuilder().shell("kubectl logs deploy/cart | grep -i oom", "", exit_code=1)
    b.say("Confirmed: no OOM kills in the cart logs.")
    assert verdict_of(b.build(), "FM-2.5").status.value == "not_assessed"
    broken = TraceBuilder().shell("grep -i oom missing.log | wc -l", "grep: missing.log: No such file", exit_code=1)
    assert verdict_of(broken.say("Confirmed: no OOM kills.").build(), "FM-2.5").status.value == "present"


def test_no_failures_means_nothing_to_judge():
    trace = TraceBuilder().shell("ls", "a").say("Confirmed.").build()
    assert verdict_of(trace, "FM-2.5").status.value == "not_assessed"


# -- FM-1.2 ------------------------------------------------------------------------------------------------
def test_mutating_the_cluster_on_a_read_only_task_even_when_it_fails():
    b = TraceBuilder(READ_ONLY_TASK).shell("kubectl get pods", "cart-1 Running")
    b.shell("kubectl delete pod cart-1 -n otel-demo", "Forbidden", exit_code=1).say("Done.")
    v = verdict_of(b.build(), "FM-1.2")
    assert v.status.value == "present" and evidence_steps(v) == [0, 3]
    assert v.evidence[0].quote.startswith("Diagnose the incident")


def test_writing_the_output_file_is_not_a_role_breach_nor_is_kubectl_in_a_heredoc_body():
    write = "cat > agent_output.json <<'EOF'\n{\"fix\": \"kubectl delete pod x\"}\nEOF"
    b = TraceBuilder(READ_ONLY_TASK).shell("kubectl get pods", "ok").shell(write, "").say("Written.")
    assert verdict_of(b.build(), "FM-1.2").status.value == "absent"


def test_role_is_only_judged_when_the_task_says_read_only():
    for task in ("Incident data (read-only) is in /snap. Fix the incident.",
                 "Fix the incident. Do not change the system prompt's tone."):
        b = TraceBuilder(task).shell("kubectl scale deploy/cart --replicas=2")
        assert verdict_of(b.say("Scaled.").build(), "FM-1.2").status.value == "not_assessed", task


# -- FM-2.1 ------------------------------------------------------------------------------------------------
def test_task_reissued_after_progress_is_a_reset_citing_the_abort():
    task = "Diagnose the incident and write agent_output.json."
    b = TraceBuilder(task).shell("ls /snap", "alerts logs").event("compacted", "Summary so far")
    b.event("turn_aborted", "replaced").user(task).shell("ls /snap", "alerts logs")
    v = verdict_of(b.say("Diagnosis written.").build(), "FM-2.1")
    assert v.status.value == "present" and evidence_steps(v) == [4, 5]


def test_the_whole_request_issued_again_inside_a_short_message_is_a_reset():
    task = "I want to exchange the rain jacket from order RO-47391 for a size L."
    b = TraceBuilder(task).call("lookup_order", {"order_id": "RO-47391"}, '{"status": "delivered"}')
    b.say("Could you tell me your order number?").user(f"I already told you: {task}")
    v = verdict_of(b.build(), "FM-2.1")
    assert v.status.value == "present" and evidence_steps(v) == [4]
    assert v.evidence[0].quote.startswith("I already told you")


def test_a_long_prompt_quoting_the_task_or_a_paraphrase_is_no_reset():
    task = "Write a snake game in Python with a score board."
    phase = TraceBuilder(task).say("Plan: modules game.py and board.py.")
    phase.user(f"Task: {task}\nPhase: code review. Review every module for bugs, missing imports and unused "
               "variables, then list the changes the programmer must make before the test phase.")
    assert verdict_of(phase.build(), "FM-2.1").status.value == "absent"
    paraphrase = TraceBuilder(task).say("Which framework?").user("As I said, a snake game in Python, with scores.")
    assert verdict_of(paraphrase.build(), "FM-2.1").status.value == "absent"


def test_no_reset_for_compaction_rollback_or_a_new_request():
    b = TraceBuilder("q1").say("a1").event("thread_rolled_back", "rolled back 1 turn(s)").user("q2").say("a2")
    assert verdict_of(b.build(), "FM-2.1").status.value == "absent"
    echoed = TraceBuilder("Diagnose it.").user("Diagnose it.").shell("ls", "a").say("Done.")  # before any action
    assert verdict_of(echoed.build(), "FM-2.1").status.value == "absent"
    assert verdict_of(TraceBuilder(None).say("hi").build(), "FM-2.1").status.value == "not_assessed"


# -- the shell parsing under FM-1.2 / FM-3.2 -----------------------------------------------------------------
def _call(command: str) -> Call:
    step = TraceBuilder(None).shell(command).steps[0]
    return Call(step, None, False, call_key(step))


def test_commands_split_outside_quotes_and_without_heredoc_bodies():
    cmd = "kubectl patch cm flagd-config -p '{\"a\": \"x; y | z\"}' && kubectl get cm flagd-config | jq ."
    assert [t[:2] for t in simple_commands(cmd)] == [["kubectl", "patch"], ["kubectl", "get"], ["jq", "."]]
    assert simple_commands("cat > out.json <<'EOF'\nkubectl delete ns prod\nEOF") == [["cat", ">", "out.json"]]


def test_changes_name_their_targets():
    assert [(c.kind, c.targets) for c in changes(_call("kubectl rollout restart deployment/cart -n otel-demo"))] == \
        [("cluster", {"cart"})]
    assert [(c.kind, c.targets) for c in changes(_call("jq . a.json > /work/out/b.json 2>/dev/null"))] == \
        [("file", {"b.json"})]
    assert changes(_call("kubectl get pods -n otel-demo -o wide")) == []
    editor = TraceBuilder(None)
    editor.call("str_replace_editor", {"command": "view", "path": "/repo/x.py"}, "a = 1")
    editor.call("str_replace_editor", {"command": "create", "path": "/repo/y.py", "file_text": "b"}, "ok")
    view, create = (Call(s, None, False, call_key(s)) for s in editor.steps if s.kind.value == "tool_call")
    assert changes(view) == [] and [(c.kind, c.targets) for c in changes(create)] == [("file", {"y.py"})]
    assert changes(_call("kubectl logs deploy/cart > /dev/null")) == []
