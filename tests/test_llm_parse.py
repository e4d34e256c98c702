"""Verdict contract: JSON validation, id normalization, and the MAST-style text fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import MODE_IDS, verdict

from mastlens.judges.llm.parse import ReplyError, parse_reply
from mastlens.judges.llm.textparse import parse_mast_text
from mastlens.taxonomy import load_taxonomy

TAX = load_taxonomy()


def test_valid_json_verdict_reads_every_mode():
    parsed = parse_reply(json.dumps(verdict({"FM-1.3": [(2, "again")]}, task_completed=True)), TAX)
    assert parsed.parser == "json"
    assert list(parsed.modes) == TAX.ids
    assert parsed.modes["FM-1.3"].present and parsed.modes["FM-1.3"].evidence[0].step == 2
    assert not parsed.modes["FM-2.1"].present
    assert parsed.task_completed is True


def test_json_inside_code_fence_and_prose():
    body = json.dumps(verdict())
    assert parse_reply(f"```json\n{body}\n```", TAX).parser == "json"
    assert len(parse_reply(f"Here is my verdict:\n{body}\nThanks.", TAX).modes) == 14


def test_aliases_and_bare_codes_are_normalized():
    ids = {"FM-1.3": "1.3", "FM-3.3": "Weak Verification", "FM-2.6": "Action-Reasoning Mismatch", "FM-1.1": "FM 1.1"}
    parsed = parse_reply(json.dumps(verdict({"FM-3.3": []}, ids=ids)), TAX)
    assert list(parsed.modes) == TAX.ids
    assert parsed.modes["FM-3.3"].present and parsed.modes["FM-3.3"].id == "FM-3.3"


def test_modes_given_as_an_object_keyed_by_id():
    data = verdict({"FM-1.5": []})
    data["modes"] = {m["id"]: {k: v for k, v in m.items() if k != "id"} for m in data["modes"]}
    assert parse_reply(json.dumps(data), TAX).modes["FM-1.5"].present


def test_missing_modes_are_an_error_naming_them():
    with pytest.raises(ReplyError, match="missing modes: FM-2.2, FM-3.1"):
        parse_reply(json.dumps(verdict(drop=("FM-2.2", "FM-3.1"))), TAX)


def test_unknown_id_is_an_error():
    extra = [{"id": "FM-9.9", "present": True, "confidence": 0.5, "evidence": [], "reason": ""}]
    with pytest.raises(ReplyError, match="unknown mode id 'FM-9.9'"):
        parse_reply(json.dumps(verdict(extra=extra)), TAX)
    with pytest.raises(ReplyError, match="unknown mode id 'Vibes'"):
        parse_reply(json.dumps(verdict(ids={"FM-1.2": "Vibes"})), TAX)


def test_duplicate_mode_is_an_error():
    dup = [{"id": "1.3", "present": False, "confidence": 0.5, "evidence": [], "reason": ""}]
    with pytest.raises(ReplyError, match="FM-1.3 appears more than once"):
        parse_reply(json.dumps(verdict(extra=dup)), TAX)


def test_truncated_json_and_bad_types_are_errors():
    body = json.dumps(verdict())
    with pytest.raises(ReplyError, match="not valid JSON"):
        parse_reply(body[: len(body) // 2], TAX)
    bad = verdict()
    bad["modes"][0]["confidence"] = 3
    with pytest.raises(ReplyError, match="modes.0.confidence"):
        parse_reply(json.dumps(bad), TAX)
    with pytest.raises(ReplyError, match="empty"):
        parse_reply("  ", TAX)


MAST_TEXT = """A. Freeform text summary of the problems with the inefficiencies or failure modes in the trace: The agent repeated itself.
B. Whether the task is successfully completed or not: no
C. Whether you encounter any of the failure modes or inefficiencies:
1.1 Disobey Task Specification: no
1.2 Disobey Role Specification: no
1.3 Step Repetition: yes
1.4 Loss of Conversation History: no
1.5 Unaware of Termination Conditions: yes
2.1 Conversation Reset: no
2.2 Fail to Ask for Clarification: no
2.3 Task Derailment: no
2.4 Information Withholding: no
2.5 Ignored Other Agent's Input: no
2.6 Action-Reasoning Mismatch: no
3.1 Premature Termination: no
3.2 No or Incorrect Verification: yes
3.3 Weak Verification: no
"""


def test_mast_style_text_answer_is_read():
    parsed = parse_reply(MAST_TEXT, TAX)
    assert parsed.parser == "mast_text"
    present = {m for m, item in parsed.modes.items() if item.present}
    assert present == {"FM-1.3", "FM-1.5", "FM-3.2"}
    assert parsed.task_completed is False
    assert parsed.summary.startswith("The agent repeated")


def test_text_parser_uses_word_boundaries():
    # "Ignored" must not read as "no"; "No or incomplete verification: yes" is a yes.
    lines = [f"{m[3:]} x: no" for m in MODE_IDS if m not in ("FM-2.5", "FM-3.2")]
    lines += ["2.5 Ignored Other Agent's Input: yes", "No or incomplete verification: yes"]
    parsed = parse_mast_text("\n".join(lines), TAX)
    assert parsed is not None and not parsed.problems
    assert parsed.modes["FM-2.5"] is True
    assert parsed.modes["FM-3.2"] is True
    assert parsed.modes["FM-1.1"] is False
    # "Nothing" or "Notably" never count as answers: the line is a problem, not a verdict
    unread = parse_mast_text("1.3 Step Repetition: Notably the agent", TAX)
    assert unread is not None and "FM-1.3" not in unread.modes
    assert any(p.startswith("FM-1.3: no yes/no answer") for p in unread.problems)


def test_partial_text_answer_is_an_error():
    with pytest.raises(ReplyError, match="missing modes"):
        parse_reply("1.3 Step Repetition: yes\n3.1 Premature Termination: no", TAX)
    with pytest.raises(ReplyError, match="not a MAST-style"):
        parse_reply("I cannot help with that.", TAX)


def test_an_echoed_answer_template_is_no_answer():
    # a weak model copying "<mode>: yes or no" from the instructions has answered nothing
    for template in ("yes or no", "yes/no", "Yes / No", "no or yes"):
        text = "\n".join(f"{m[3:]} x: {template}" for m in MODE_IDS)
        with pytest.raises(ReplyError):
            parse_reply(text, TAX)


REPLIES = Path(__file__).parent / "judge_replies"
EXPECTED = json.loads((REPLIES / "expected.json").read_text(encoding="utf-8"))
SHAPES = sorted(name for name in EXPECTED if not name.startswith("_"))


@pytest.mark.parametrize("name", SHAPES)
def test_reply_shape_corpus_is_read_mode_by_mode(name):
    """Each reply shape a model produces: read mode by mode, or an error naming the unreadable line."""
    text = (REPLIES / name).read_text(encoding="utf-8")
    expected = EXPECTED[name]
    if "error" in expected:
        with pytest.raises(ReplyError) as err:
            parse_reply(text, TAX)
        for fragment in expected["error"]:
            assert fragment in str(err.value)
        return
    parsed = parse_reply(text, TAX)
    assert parsed.parser == expected["parser"]
    assert list(parsed.modes) == TAX.ids
    for mode_id in TAX.ids:
        assert parsed.modes[mode_id].present is (mode_id in expected["present"]), mode_id
    if "task_completed" in expected:
        assert parsed.task_completed is expected["task_completed"]


def test_field_names_are_never_answers():
    # the issue-14 reply: every line names the field "present" and answers false
    lines = [f"{m} {TAX.by_id[m].name}: present: false" for m in TAX.ids]
    parsed = parse_reply("\n".join(lines), TAX)
    assert not any(item.present for item in parsed.modes.values())
    negated = parse_mast_text("\n".join(f"{m}: absent: true" for m in TAX.ids), TAX)
    assert negated is not None and not negated.problems and not any(negated.modes.values())
