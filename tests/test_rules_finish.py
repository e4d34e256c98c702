"""Rules judge, constructed traces: FM-3.1 premature termination and FM-3.2 no or incomplete verification."""

from __future__ import annotations

from rules_traces import READ_ONLY_TASK, TraceBuilder, evidence_steps, verdict_of

WRITE = "cat > agent_output.json <<'EOF'\n{\"entities\": [], \"note\": \"kubectl delete pod x\"}\nEOF"
PATCH = "kubectl patch configmap flagd-config -n otel-demo --type merge -p '{\"data\": {\"a\": \"b; c | d\"}}'"


def _investigation(task: str = READ_ONLY_TASK) -> TraceBuilder:
    return TraceBuilder(task).shell("kubectl logs -n otel-demo deploy/cart", "ERROR cartFailure on")


# -- FM-3.1 ----------------------------------------------------------------------------------------------
def test_missing_diagnosis_after_the_agent_stopped_is_premature_termination():
    trace = _investigation().say("The cart deployment is the root cause. Investigation complete.").build(
        diagnosis_status="missing")
    v = verdict_of(trace, "FM-3.1")
    assert v.status.value == "present" and "never written" in v.reason
    assert evidence_steps(v) == [trace.steps[-1].index]


def test_empty_diagnosis_cites_the_write_that_left_entities_empty():
    b = _investigation().shell(WRITE, "").shell("jq -e '.entities | length' agent_output.json", "0")
    trace = b.say("I could not find the cause; wrote an empty diagnosis.").build(diagnosis_status="empty")
    v = verdict_of(trace, "FM-3.1")
    assert v.status.value == "present" and v.evidence[0].step == 3 and '"entities": []' in v.evidence[0].quote


def test_written_diagnosis_is_not_premature_and_a_loop_cut_is_left_to_fm15():
    done = _investigation().shell(WRITE.replace("[]", '["x"]'), "").say("Diagnosis written.").build(
        diagnosis_status="present")
    assert verdict_of(done, "FM-3.1").status.value == "absent"
    b = _investigation()
    for _ in range(4):
        b.shell("kubectl top pods", "cart 20m")
    cut = b.event("turn_aborted", "interrupted").build(diagnosis_status="missing")
    assert verdict_of(cut, "FM-3.1").status.value == "not_assessed"
    assert verdict_of(cut, "FM-1.5").status.value == "present"


def test_plan_with_pending_items_at_the_end_is_premature_termination():
    plan = {"plan": [{"step": "Read logs", "status": "completed"}, {"step": "Write diagnosis", "status": "pending"}]}
    b = TraceBuilder().call("update_plan", plan, "Plan updated").say("The cause is flagd-config.")
    v = verdict_of(b.build(), "FM-3.1")
    assert v.status.value == "present" and "1 plan item" in v.reason
    finished = {"plan": [{"step": "Read logs", "status": "completed"}, {"step": "Write it", "status": "completed"}]}
    ok = TraceBuilder().call("update_plan", finished, "Plan updated").say("The cause is flagd-config.")
    # rules v4 coverage rule: a run with tool calls meets FM-3.1's precondition, so a finished plan is absent
    assert verdict_of(ok.build(), "FM-3.1").status.value == "absent"


def test_closing_message_that_only_promises_the_next_step():
    v = verdict_of(_investigation().say("I'll now write the diagnosis file.").build(), "FM-3.1")
    assert v.status.value == "present" and v.evidence[0].quote == "I'll now write the diagnosis file."
    # rules v4: the investigation's tool calls meet FM-3.1's precondition, so a non-promise is absent
    polite = _investigation().say("The cause is flagd-config. Let me know if you need anything else.").build()
    assert verdict_of(polite, "FM-3.1").status.value == "absent"
    asking = _investigation().say("I will book it once you confirm. Shall I proceed?").build()
    assert verdict_of(asking, "FM-3.1").status.value == "absent"
    summary = _investigation().say("I'll summarize what I found. The root cause is flagd-config.").build()
    assert verdict_of(summary, "FM-3.1").status.value == "absent"  # the promise was kept


def test_a_courteous_sign_off_is_no_promise_of_work():
    for closing in ("Your booking is done. I'll be happy to help with anything else.",
                    "All set. I will be here for any other questions.",
                    "The issue is resolved. Feel free to reach out; I'll gladly assist.",
                    "Thanks for your patience! I'll remember that for next time."):
        trace = _investigation().say(closing).build()
        assert verdict_of(trace, "FM-3.1").status.value == "absent", closing  # v4: assessed, no promise


# -- FM-3.2 ----------------------------------------------------------------------------------------------
def test_cluster_change_never_looked_at_again_is_no_verification():
    b = _investigation("Fix the incident.").shell(PATCH, "configmap/flagd-config patched")
    trace = b.say("Fixed: the incident is resolved.").build()
    v = verdict_of(trace, "FM-3.2")
    assert v.status.value == "present" and "flagd-config" in v.reason
    assert evidence_steps(v) == [3, 5] and v.evidence[0].quote.startswith("kubectl patch configmap flagd-config")


def test_checked_success_is_not_an_unverified_one():
    b = _investigation("Fix the incident.").shell(PATCH, "configmap/flagd-config patched")
    b.shell("kubectl get configmap flagd-config -n otel-demo -o yaml", "cartFailure: off")
    assert verdict_of(b.say("Fixed and checked.").build(), "FM-3.2").status.value == "absent"
    restart = _investigation("Fix the incident.").shell("kubectl rollout restart deployment/cart -n otel-demo", "ok")
    restart.shell("kubectl get pods -n otel-demo", "cart-2 1/1 Running")  # a listing shows every pod
    assert verdict_of(restart.say("cart restarted and running.").build(), "FM-3.2").status.value == "absent"


def test_file_write_read_back_or_not():
    checked = _investigation().shell(WRITE, "").shell("jq . agent_output.json", "{}").say("Written.").build()
    assert verdict_of(checked, "FM-3.2").status.value == "absent"
    unchecked = TraceBuilder("Write the report.").shell("echo hi > report.txt", "").say("Report written.").build()
    v = verdict_of(unchecked, "FM-3.2")
    assert v.status.value == "present" and "report.txt" in v.reason


def test_code_edit_needs_a_test_run_or_a_read():
    patch = "*** Begin Patch\n*** Update File: x.py\n@@\n-a\n+b\n*** End Patch"
    b = TraceBuilder("Fix the failing test.").call("apply_patch", patch, "Success. Updated x.py", content=patch)
    assert verdict_of(b.say("Fixed the failing test.").build(), "FM-3.2").status.value == "present"
    tested = TraceBuilder("Fix the failing test.").call("apply_patch", patch, "Success", content=patch)
    tested.call("shell", {"command": ["pytest", "-x"]}, "1 passed", content="pytest -x", exit_code=0)
    assert verdict_of(tested.say("Fixed; tests pass.").build(), "FM-3.2").status.value == "absent"


def test_required_check_that_never_ran_is_no_verification():
    trace = _investigation().say("The ad deployment is the root cause. Investigation complete.").build()
    v = verdict_of(trace, "FM-3.2")
    assert v.status.value == "present" and "`jq` check" in v.reason
    assert v.evidence[0].quote.endswith("validate it with `jq`.")


def test_failed_write_is_not_a_change_and_a_failed_check_still_ran():
    b = _investigation().shell(WRITE, "Read-only file system", exit_code=1)
    b.shell("jq . agent_output.json", "jq: error: Could not open file", exit_code=2)
    assert verdict_of(b.say("Done.").build(), "FM-3.2").status.value == "absent"


def test_api_writes_returning_the_record_confirm_themselves():
    booked = TraceBuilder("Book it.").call("book_reservation", {"user_id": "u1"}, '{"reservation_id": "HATHAT"}')
    assert verdict_of(booked.say("Booked HATHAT.").build(), "FM-3.2").status.value == "absent"
    blind = TraceBuilder("Update it.").call("update_reservation_baggages", {"id": "R1", "bags": 2}, "OK")
    assert verdict_of(blind.say("Updated.").build(), "FM-3.2").status.value == "present"
    reread = TraceBuilder("Update it.").call("update_reservation_baggages", {"id": "R1", "bags": 2}, "OK")
    reread.call("get_reservation_details", {"id": "R1"}, '{"bags": 2}')
    assert verdict_of(reread.say("Updated.").build(), "FM-3.2").status.value == "absent"


def test_verification_is_not_assessed_without_a_final_answer_or_anything_to_verify():
    no_end = TraceBuilder("Fix it.").shell(PATCH, "patched").build()
    assert verdict_of(no_end, "FM-3.2").status.value == "not_assessed"
    # rules v4: a final answer in a run with tools meets FM-3.2's precondition; a passing read and no change
    # is absent (it used to be not_assessed, which left FM-3.2 present-or-not-assessed on such runs)
    read_only = TraceBuilder("Why is cart failing?").shell("kubectl logs deploy/cart", "err").say("flagd-config.")
    assert verdict_of(read_only.build(), "FM-3.2").status.value == "absent"
