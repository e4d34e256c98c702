"""The user's own tool calls are the user's doing, not the agent's (tau2's dual-control domains, e.g. telecom: the
user toggles airplane mode on their phone while the agent guides them). The rules read such calls and their
results as user input: no FM-1.1 for an unconfirmed "write" the user made, no FM-1.3 for the user checking their
phone again, and a user's action between two agent calls is new input. Read through the tau2 reader from a
constructed Results file shaped as tau2-bench writes them (``requestor: "user"``)."""

from __future__ import annotations

import json

from _read import read_as
from rules_traces import verdict_of

from mastlens.judges.rules import DEFAULT_CONFIG
from mastlens.judges.rules.view import TraceView
from mastlens.trace import ModeStatus, StepKind

POLICY = ("You are a telecom technical support agent. Before taking any action that updates the customer's account "
          "(enabling roaming, refueling data, changing a plan), you must list the action and obtain explicit user "
          "confirmation (yes) to proceed. The user can act on their own phone: guide them through the steps.")


def _user_call(call_id: str, name: str, arguments: dict, output: str, *, text: str | None = None) -> list[dict]:
    return [{"role": "user", "content": text, "tool_calls": [
                {"id": call_id, "name": name, "arguments": arguments, "requestor": "user"}]},
            {"role": "tool", "id": call_id, "content": output, "requestor": "user"}]


def _agent_call(call_id: str, name: str, arguments: dict, output: str) -> list[dict]:
    return [{"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "name": name, "arguments": arguments, "requestor": "assistant"}]},
            {"role": "tool", "id": call_id, "content": output, "requestor": "assistant"}]


STATUS_OFF = "Status bar: airplane mode OFF | signal: no service | mobile data: enabled"


def _telecom_run() -> list[dict]:
    """The agent guides the user through their phone's settings; every change is the user's own."""
    return [
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "My phone shows no service since this morning. My number is 555-0100."},
        *_agent_call("a1", "get_customer_by_phone", {"phone_number": "555-0100"},
                     '{"customer_id": "C1", "line": "L1", "status": "Active"}'),
        {"role": "assistant", "content": "Thanks. Could you look at your status bar and tell me what it shows?"},
        *_user_call("u1", "check_status_bar", {}, STATUS_OFF),
        *_user_call("u2", "check_status_bar", {}, STATUS_OFF),
        *_user_call("u3", "check_status_bar", {}, STATUS_OFF, text="It says no service."),
        {"role": "assistant", "content": "Please set your network mode preference to 4G/5G automatic."},
        *_user_call("u4", "set_network_mode_preference", {"mode": "4g_5g_preferred"},
                    "Network mode preference set to 4g_5g_preferred."),
        *_user_call("u5", "check_status_bar", {}, "Status bar: signal: 4 bars | 5G | mobile data: enabled",
                    text="I have signal again, thank you! ###STOP###"),
    ]


def _results(messages: list[dict]) -> dict:
    simulation = {"id": "sim0000001", "task_id": "no_service_1", "trial": 0, "termination_reason": "user_stop",
                  "reward_info": {"reward": 1.0}, "messages": messages}
    return {"timestamp": "2025-10-01T00:00:00", "info": {
        "agent_info": {"implementation": "llm_agent", "llm": "openai/gpt-4.1"},
        "user_info": {"implementation": "user_simulator", "llm": "openai/gpt-4.1"},
        "environment_info": {"domain_name": "telecom", "policy": POLICY}}, "tasks": [], "simulations": [simulation]}


def _trace(tmp_path, messages: list[dict]):
    path = tmp_path / "telecom.json"
    path.write_text(json.dumps(_results(messages), indent=2), encoding="utf-8")
    (trace,) = read_as(path, "tau2").traces
    return trace


def test_the_reader_marks_the_users_calls_as_the_users(tmp_path):
    trace = _trace(tmp_path, _telecom_run())
    user_calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL and s.agent == "user"]
    assert [s.tool for s in user_calls] == ["check_status_bar"] * 3 + ["set_network_mode_preference",
                                                                         "check_status_bar"]


def test_the_view_counts_only_the_agents_calls(tmp_path):
    trace = _trace(tmp_path, _telecom_run())
    view = TraceView.build(trace, DEFAULT_CONFIG)
    assert [c.tool for c in view.calls] == ["get_customer_by_phone"]
    assert view.calls[0].result is not None and '"C1"' in view.calls[0].output
    acted = [s for s in view.trace.steps if s.tool == "check_status_bar"]
    assert acted and all(s.kind is StepKind.USER and s.agent == "user" for s in acted)
    assert trace.steps[acted[0].index].kind in (StepKind.TOOL_CALL, StepKind.TOOL_RESULT)  # the stored trace is kept


def test_a_change_the_user_made_on_their_phone_is_no_unconfirmed_action(tmp_path):
    trace = _trace(tmp_path, _telecom_run())
    assert verdict_of(trace, "FM-1.1").status is not ModeStatus.PRESENT
    assert verdict_of(trace, "FM-1.3").status is not ModeStatus.PRESENT  # the user looked at the phone three times
    assert verdict_of(trace, "FM-3.2").status is not ModeStatus.PRESENT  # a "write" of the user's, not the agent's


def test_the_agents_own_unconfirmed_write_is_still_found(tmp_path):
    """The same run where the agent itself changes the account with no yes: FM-1.1 stays present."""
    messages = _telecom_run()
    messages[4:4] = _agent_call("a2", "enable_roaming", {"customer_id": "C1", "line_id": "L1"},
                                '{"line_id": "L1", "roaming_enabled": true}')
    trace = _trace(tmp_path, messages)
    verdict = verdict_of(trace, "FM-1.1")
    roaming = next(s.index for s in trace.steps if s.tool == "enable_roaming" and s.kind is StepKind.TOOL_CALL)
    assert verdict.status is ModeStatus.PRESENT and f"(step(s) {roaming})" in verdict.reason


def test_a_users_action_between_two_agent_calls_is_new_input(tmp_path):
    """The agent checks the line, the user reboots, the agent checks again: not a repetition that learned nothing."""
    messages = [
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "No data on line L1 (customer C1)."},
        *_agent_call("a1", "get_details_by_id", {"id": "L1"}, '{"line_id": "L1", "data_used_gb": 2.0}'),
        *_user_call("u1", "reboot_device", {}, "Device rebooted."),
        *_agent_call("a2", "get_details_by_id", {"id": "L1"}, '{"line_id": "L1", "data_used_gb": 2.0}'),
        *_user_call("u2", "reboot_device", {}, "Device rebooted."),
        *_agent_call("a3", "get_details_by_id", {"id": "L1"}, '{"line_id": "L1", "data_used_gb": 2.0}'),
        {"role": "assistant", "content": "Your line is fine now."},
        {"role": "user", "content": "Thanks ###STOP###"},
    ]
    trace = _trace(tmp_path, messages)
    assert verdict_of(trace, "FM-1.3").status is not ModeStatus.PRESENT


def test_state_changes_named_by_common_verbs_are_gated():
    """Tools named by a verb of state change beyond book/cancel/update (enable_roaming, suspend_line, reset_password,
    pay_invoice) are writes the confirmation gate covers; a look-up is not."""
    from rules_traces import TraceBuilder

    for tool in ("enable_roaming", "suspend_line", "reset_password", "pay_invoice", "reschedule_delivery"):
        b = TraceBuilder(system=POLICY, task="Please help with my line L1.")
        b.call("get_line", {"id": "L1"}, '{"line_id": "L1"}').say("I found line L1.").user("What can you do?")
        b.call(tool, {"id": "L1"}, '{"line_id": "L1", "ok": true}')
        verdict = verdict_of(b.say("Done.").build(), "FM-1.1")
        assert verdict.status is ModeStatus.PRESENT, tool
    b = TraceBuilder(system=POLICY, task="Please help with my line L1.")
    b.call("get_line", {"id": "L1"}, '{"line_id": "L1"}').say("Your line is active.")
    assert verdict_of(b.build(), "FM-1.1").status is ModeStatus.NOT_ASSESSED  # nothing changed: no gate to keep


def test_a_solo_run_has_nobody_to_confirm(tmp_path):
    """tau2's solo agent gets a ticket and cannot talk to the user: the policy's confirmation gate cannot be kept,
    so FM-1.1 is not assessed (before: every write of every solo run was an unconfirmed action)."""
    messages = [{"role": "user", "content": "Ticket: customer C1 (line L1) travels abroad next week and needs roaming."},
                *_agent_call("a1", "get_customer_by_id", {"customer_id": "C1"}, '{"customer_id": "C1"}'),
                *_agent_call("a2", "enable_roaming", {"customer_id": "C1", "line_id": "L1"},
                             '{"line_id": "L1", "roaming_enabled": true}')]
    verdict = verdict_of(_trace(tmp_path, messages), "FM-1.1")
    assert verdict.status is ModeStatus.NOT_ASSESSED and "nobody to confirm" in verdict.reason
    answered = messages + [{"role": "assistant", "content": "Roaming is on."}, {"role": "user", "content": "Thanks"},
                           *_agent_call("a3", "enable_roaming", {"customer_id": "C1", "line_id": "L2"}, '{"ok": true}')]
    assert verdict_of(_trace(tmp_path, answered), "FM-1.1").status is ModeStatus.PRESENT  # a user took part
