"""Rules judge, constructed traces: FM-1.3 step repetition and FM-1.5 unaware of termination."""

from __future__ import annotations

from rules_traces import TraceBuilder, evidence_steps, verdict_of

from mastlens.judges.rules import RulesConfig
from mastlens.judges.rules.precision import measured_precision
from mastlens.trace import Outcome

TOP = "cart  20m  90Mi\nfrontend  34m  112Mi"


def _repeat(b: TraceBuilder, command: str, times: int, output: str = TOP) -> TraceBuilder:
    for _ in range(times):
        b.think("Check pod usage.").shell(command, output)
    return b


def test_same_call_same_result_three_times_is_repetition_with_the_calls_as_evidence():
    trace = _repeat(TraceBuilder(), "kubectl top pods -n otel-demo", 3).say("Done.", final=True).build()
    v = verdict_of(trace, "FM-1.3")
    assert v.status.value == "present" and v.confidence == measured_precision("FM-1.3")  # v7: validation precision
    calls = [s.index for s in trace.steps if s.kind.value == "tool_call"]
    assert evidence_steps(v) == calls
    assert all(e.quote == "kubectl top pods -n otel-demo" and e.verified for e in v.evidence)


def test_iterating_with_changed_arguments_is_not_repetition():
    b = TraceBuilder()
    for dest in ("SFO", "LAX", "SEA", "PDX"):
        b.call("search_direct_flight", {"origin": "JFK", "destination": dest, "date": "2024-05-20"}, "[]")
    v = verdict_of(b.say("No direct flight found.").build(), "FM-1.3")
    assert v.status.value == "absent"


def test_polling_that_learns_something_is_not_repetition():
    b = TraceBuilder()
    for ready in ("0/1", "0/1", "1/1"):
        b.shell("kubectl get pods -n otel-demo", f"cart-1 {ready} Running")
    assert verdict_of(b.say("cart is ready.").build(), "FM-1.3").status.value == "absent"


def test_two_in_a_row_is_ordinary_rechecking_unless_configured():
    trace = _repeat(TraceBuilder(), "kubectl top pods", 2).say("Done.").build()
    assert verdict_of(trace, "FM-1.3").status.value == "absent"
    assert verdict_of(trace, "FM-1.3", RulesConfig(repeat_min_calls=2)).status.value == "present"


def test_repeats_split_by_another_call_or_by_new_user_input_are_not_repetition():
    b = TraceBuilder()
    b.shell("kubectl top pods", TOP).shell("kubectl get events", "none").shell("kubectl top pods", TOP)
    b.shell("kubectl top pods", TOP).user("Please check again.").shell("kubectl top pods", TOP)
    assert verdict_of(b.say("Done.").build(), "FM-1.3").status.value == "absent"


def test_volatile_arguments_and_key_order_do_not_make_calls_different():
    b = TraceBuilder()
    for timeout, order in ((10, True), (20, False), (30, True)):
        args = {"reservation_id": "H9ZU1C", "timeout": timeout}
        if not order:
            args = dict(reversed(args.items()))
        b.call("get_reservation_details", args, '{"reservation_id": "H9ZU1C"}')
    assert verdict_of(b.say("Here it is.").build(), "FM-1.3").status.value == "present"


def test_same_long_message_three_times_is_repetition_but_short_ones_are_not():
    ask = "Could you please provide your user ID and the reservation ID for the booking?"
    b = TraceBuilder()
    for _ in range(3):
        b.say(ask).user("I don't know.")
    v = verdict_of(b.build(), "FM-1.3")
    assert v.status.value == "present" and len(v.evidence) == 3 and "same message" in v.reason
    short = TraceBuilder()
    for _ in range(4):
        short.say("OK.").user("go on")
    assert verdict_of(short.build(), "FM-1.3").status.value == "absent"


def test_repetition_needs_something_to_judge():
    assert verdict_of(TraceBuilder().say("Hello.").build(), "FM-1.3").status.value == "not_assessed"


def test_run_cut_inside_a_loop_is_unaware_of_termination():
    b = TraceBuilder()
    for _ in range(3):
        b.shell("kubectl top pods", TOP).shell("kubectl get hpa", "no hpa")
    trace = b.think("Keep sampling.").event("turn_aborted", "interrupted").build()
    v = verdict_of(trace, "FM-1.5")
    assert v.status.value == "present" and "loop of 6" in v.reason
    assert evidence_steps(v)[-1] == trace.steps[-1].index  # the abort is cited


def test_a_loop_the_agent_breaks_out_of_is_not_unaware_of_termination():
    trace = _repeat(TraceBuilder(), "kubectl top pods", 4).say("CPU is fine; the cause is flagd-config.").build()
    v = verdict_of(trace, "FM-1.5")
    assert v.status.value == "absent"
    assert verdict_of(trace, "FM-1.3").status.value == "present"  # still repetition


def test_recorded_limit_is_unaware_of_termination():
    b = TraceBuilder().shell("ls", "a b").shell("cat a", "x").error("Agent stopped: reached max turns (30)")
    v = verdict_of(b.build(), "FM-1.5")
    assert v.status.value == "present" and v.evidence[0].quote.startswith("Agent stopped")


def test_a_timeout_the_agent_recovered_from_is_no_run_limit():
    b = TraceBuilder().call("http_get", {"url": "http://cart:8080/health"}, '{"status": "ok"}')
    b.error("stream error: request timed out; retrying turn")
    b.call("http_get", {"url": "http://cart:8080/metrics"}, "latency_p99 3s")
    v = verdict_of(b.say("The cart service is slow: p99 latency is 3 s.", final=True).build(), "FM-1.5")
    assert v.status.value == "absent"


def test_tool_calls_after_the_final_answer_without_new_input():
    b = TraceBuilder().shell("ls", "a").say("The answer is 4. TERMINATE")
    b.shell("cat a", "x").shell("cat b", "y").say("Still 4.")
    v = verdict_of(b.build(), "FM-1.5")
    assert v.status.value == "present" and "after the final answer" in v.reason
    resumed = TraceBuilder().shell("ls", "a").say("Done.", final=True).user("Now also check b.")
    resumed.shell("cat a", "x").shell("cat b", "y").say("b is fine.", final=True)
    assert verdict_of(resumed.build(), "FM-1.5").status.value == "absent"


def test_run_without_final_answer_or_loop_is_not_assessed_for_termination():
    # rules v4: a run that stops on a tool result nobody read was cut mid-work (present); one that ends on
    # new user input, with no answer, loop or limit, still says nothing about termination
    cut = verdict_of(TraceBuilder().shell("ls", "a").shell("cat a", "x").build(), "FM-1.5")
    assert cut.status.value == "present" and "mid-work" in cut.reason and cut.evidence[0].step == 4
    trace = TraceBuilder().shell("ls", "a").user("thanks, I will take it from here").build()
    assert verdict_of(trace, "FM-1.5").status.value == "not_assessed"
    submitted = TraceBuilder().shell("ls", "a").call("submit", {"answer": "flag{x}"}, "submitted").build()
    assert verdict_of(submitted, "FM-1.5").status.value == "absent"  # ends on a tool that finishes by design


# -- stop reasons the format records (chat logs, agent SDKs, Inspect) -----------------------------------
def _with_outcome(trace, **metrics):
    return trace.model_copy(update={"outcome": Outcome(success=False, metrics=metrics)})


def _promising_run() -> TraceBuilder:
    b = TraceBuilder("Where is my order RO-1?")
    b.call("track_shipment", {"order_id": "RO-1"}, '{"status": "in_transit"}')
    return b.say("Still in transit. Let me check the tracking once more to be sure.")


def test_recorded_turn_limit_is_unaware_of_termination_not_premature_termination():
    trace = _with_outcome(_promising_run().build(), stop_reason="max_turns")
    v = verdict_of(trace, "FM-1.5")
    assert v.status.value == "present" and "stop_reason=max_turns" in v.reason
    assert evidence_steps(v) == [trace.steps[-1].index]  # the agent's last action
    assert verdict_of(trace, "FM-3.1").status.value == "not_assessed"  # stopped, did not stop by itself
    inspect = _promising_run().build(limit={"type": "message", "limit": 30})
    assert verdict_of(inspect, "FM-1.5").status.value == "present"


def test_a_reply_cut_at_its_token_cap_or_an_operator_stop_is_no_run_limit():
    for trace in (_with_outcome(_promising_run().build(), finish_reason="length"),
                  _with_outcome(_promising_run().build(), stop_reason="end_turn"),
                  _promising_run().build(limit={"type": "operator"})):
        assert verdict_of(trace, "FM-1.5").status.value == "absent"
        assert verdict_of(trace, "FM-3.1").status.value == "present"  # the closing promise is then premature


# -- repeated messages need the same reply ---------------------------------------------------------------
def test_same_message_answered_differently_each_time_is_iteration():
    skip = "I will use the next_song API again to skip to the next song in the queue."
    b = TraceBuilder("Keep going to the next song until you reach a song by Lily Moon.")
    for song in (167, 323, 68):
        b.say(skip).user(f'{{"message": "Moved to the next song.", "song_id": {song}}}')
    assert verdict_of(b.build(), "FM-1.3").status.value == "absent"


def test_a_message_logged_twice_in_a_row_is_one_send():
    plan = "Thought: the issue is in separability_matrix; I will ask the navigator to open the file."
    b = TraceBuilder()
    b.say(plan, agent="Planner").say(plan, agent="Planner").say(plan, agent="Planner").user("file contents")
    assert verdict_of(b.build(), "FM-1.3").status.value == "absent"
