"""The LLM judge's second, focused localization pass, through the real fake Chat Completions server."""

from __future__ import annotations

import json

from fake_openai import FakeOpenAI, reply, verdict
from judge_helpers import judge
from mastlens.judges.llm.localize import LOCALIZE_SYSTEM, parse_localization, run_agents
from mastlens.judges.runner import annotate_traces
from mastlens.trace import Source, Step, StepKind, Trace

SET = "openai:gpt-4.1-mini"


def _team_trace(i: int = 0) -> Trace:
    """An orchestrator that sends a web surfer to the wrong site, the surfer following, a wrong final answer."""
    texts = [
        (StepKind.SYSTEM, None, "You lead a team that answers questions from the web."),
        (StepKind.USER, "human", f"Question {i}: what year did the museum open?"),
        (StepKind.ASSISTANT, "Orchestrator", "Plan: WebSurfer, search the city's tourism page for the museum."),
        (StepKind.ASSISTANT, "WebSurfer", "I opened the tourism page of a different city with the same name."),
        (StepKind.ASSISTANT, "WebSurfer", "The page says the museum opened in 1921."),
        (StepKind.ASSISTANT, "Orchestrator", "Final answer: 1921."),
    ]
    steps = [Step(index=k, kind=kind, agent=agent, content=text) for k, (kind, agent, text) in enumerate(texts)]
    return Trace(id=f"team-{i}", source=Source(format="native"), task="Answer the question", steps=steps)


def _first_pass(task_completed: bool | None = False) -> dict:
    body = verdict({"FM-3.3": [(4, "The page says the museum opened in 1921.")]}, task_completed=task_completed)
    body.update({"decisive_step": 5, "decisive_agent": "Orchestrator", "decisive_reason": "gave the wrong answer"})
    return body


def _is_second_pass(request: dict) -> bool:
    return request["messages"][0]["content"] == LOCALIZE_SYSTEM


def _responder(second: list[dict | str]):
    """First-pass requests get :func:`_first_pass`; second-pass ones the next of ``second``."""
    answers = iter(second)

    def respond(request, n):
        if _is_second_pass(request):
            return reply(next(answers), request)
        return reply(_first_pass(), request)
    return respond


def test_the_second_pass_names_the_agent_and_step_and_keeps_the_first_guess(store):
    store.add_trace(_team_trace())
    answer = {"decisive_step": 3, "decisive_agent": "websurfer", "decisive_reason": "opened the wrong city's page"}
    with FakeOpenAI(_responder([answer])) as srv:
        summary = annotate_traces(store, judge(srv.url, localize=True))
    assert summary.errors == 0 and srv.calls == 2
    second = srv.requests[1]
    assert _is_second_pass(second) and second["response_format"]["json_schema"]["schema"]["required"] == [
        "decisive_step", "decisive_agent", "decisive_reason"]
    user = second["messages"][1]["content"]
    assert "Agents in this run (as named in the step labels): Orchestrator, WebSurfer" in user
    assert "- FM-3.3 (steps 4):" in user and "Decisive mistake guessed: step 5, agent Orchestrator" in user
    assert "[step 3 | assistant | WebSurfer]" in user
    [ann] = store.get_annotations(SET)
    v = ann.verdict
    assert (v.decisive_step, v.decisive_agent, v.decisive_reason) == (3, "WebSurfer", "opened the wrong city's page")
    assert v.metadata["first_pass_decisive"] == {"step": 5, "agent": "Orchestrator", "reason": "gave the wrong answer"}
    assert v.present() == ["FM-3.3"]


def test_no_second_pass_for_a_completed_run_or_without_the_option(store):
    store.add_trace(_team_trace(0))
    store.add_trace(_team_trace(1))
    with FakeOpenAI(lambda req, n: reply(_first_pass(task_completed=True), req)) as srv:
        annotate_traces(store, judge(srv.url, localize=True), trace_ids=["team-0"])
    assert srv.calls == 1
    with FakeOpenAI(_responder([])) as srv:  # a failed run, judged without the option
        annotate_traces(store, judge(srv.url), set_name="one-pass", trace_ids=["team-1"])
    assert srv.calls == 1 and not any(_is_second_pass(r) for r in srv.requests)
    [ann] = store.get_annotations("one-pass")
    assert ann.verdict.decisive_step == 5 and "first_pass_decisive" not in ann.verdict.metadata


def test_an_unknown_agent_gets_one_correction_then_the_trace_is_an_error(store):
    store.add_trace(_team_trace())
    wrong = {"decisive_step": 3, "decisive_agent": "Browser", "decisive_reason": "x"}
    with FakeOpenAI(_responder([wrong, json.dumps(wrong)])) as srv:
        summary = annotate_traces(store, judge(srv.url, localize=True))
    assert summary.errors == 1 and srv.calls == 3
    correction = srv.requests[2]["messages"][-1]["content"]
    assert "decisive_agent 'Browser' is not an agent of the record (Orchestrator, WebSurfer)" in correction
    [ann] = store.get_annotations(SET)
    assert ann.status.value == "error" and "invalid localization after a corrective retry" in ann.error


def test_a_corrected_reply_is_used_and_a_rerun_is_served_from_the_cache(store):
    store.add_trace(_team_trace())
    out_of_range = {"decisive_step": 40, "decisive_agent": "WebSurfer", "decisive_reason": "x"}
    right = {"decisive_step": 4, "decisive_agent": "WebSurfer", "decisive_reason": "misread the page"}
    with FakeOpenAI(_responder([out_of_range, right])) as srv:
        summary = annotate_traces(store, judge(srv.url, localize=True))
    assert summary.errors == 0 and srv.calls == 3
    assert "decisive_step 40 is not a step of the record (steps 0 to 5)" in srv.requests[2]["messages"][-1]["content"]
    with FakeOpenAI(_responder([])) as srv:
        again = annotate_traces(store, judge(srv.url, localize=True), set_name="again")
    assert srv.calls == 0 and again.errors == 0
    [ann] = store.get_annotations("again")
    assert (ann.verdict.decisive_step, ann.verdict.decisive_agent) == (4, "WebSurfer")


def test_the_option_changes_the_recorded_prompt_hash(store):
    one, two = judge("http://127.0.0.1:9/v1"), judge("http://127.0.0.1:9/v1", localize=True)
    assert one.info().prompt_hash != two.info().prompt_hash and two.info().params["localize"] is True


def test_a_single_agent_run_is_attributed_to_the_assistant():
    steps = [Step(index=0, kind=StepKind.USER, content="hi"), Step(index=1, kind=StepKind.ASSISTANT, content="ok")]
    assert run_agents(Trace(id="t", source=Source(format="native"), steps=steps)) == ["assistant"]


def test_unnamed_acting_steps_are_the_assistant_beside_a_named_harness():
    """A coding agent's steps name no agent while the harness's events do: the agent is "assistant", the
    harness is no agent of the run, and a reply blaming the unnamed user is read as such."""
    steps = [Step(index=0, kind=StepKind.USER, content="fix the bug"),
             Step(index=1, kind=StepKind.TOOL_CALL, tool="bash", arguments={"command": "ls"}),
             Step(index=2, kind=StepKind.EVENT, agent="harness", content="format error"),
             Step(index=3, kind=StepKind.ASSISTANT, content="done")]
    trace = Trace(id="t", source=Source(format="native"), steps=steps)
    assert run_agents(trace) == ["assistant"]
    for said, read in (("Assistant", "assistant"), ("user", "user"), ("harness", "harness")):
        answer = json.dumps({"decisive_step": 1, "decisive_agent": said, "decisive_reason": "x"})
        assert parse_localization(answer, trace).decisive_agent == read


def test_annotate_localize_on_the_command_line(tmp_path):
    from conftest import EXAMPLES
    from typer.testing import CliRunner

    from mastlens.cli.app import app

    def respond(request, n):
        if _is_second_pass(request):
            return reply({"decisive_step": 1, "decisive_agent": "assistant", "decisive_reason": "cli"}, request)
        return reply(verdict(task_completed=False), request)

    with FakeOpenAI(respond) as srv:
        result = CliRunner().invoke(app, ["annotate", str(EXAMPLES / "chat"), "--judge", "openai:gpt-4.1-mini",
                                          "--base-url", srv.url, "--localize", "--json", "--db", str(tmp_path / "m.db")],
                                    env={"MASTLENS_API_KEY": "sk-test-x"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    firsts = [r for r in srv.requests if not _is_second_pass(r)]
    seconds = [r for r in srv.requests if _is_second_pass(r)]
    assert firsts and len(seconds) == len(firsts)  # every run said not completed
    assert json.loads(result.stdout)["errors"] == 0


def test_the_system_prompt_is_static_and_reads_the_boundaries():
    from mastlens.judges.llm.prompt import system_message
    from mastlens.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    text = system_message(taxonomy)
    assert text == system_message(taxonomy) and "<trace>" not in text  # no trace in the cached prefix
    for mode in taxonomy.modes:
        for example in mode.examples:
            assert f"Example. {example}" in text
    fm11 = taxonomy.mode("FM-1.1")
    assert "harness's feedback working, not the agent disobeying its task" in fm11.does_not_count
    assert "named exactly as in the label of that step" in text
