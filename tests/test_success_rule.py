import pytest

from mastlens.trace import Outcome, SuccessRule, SuccessRuleError, SuccessTally


@pytest.mark.parametrize(
    "rule, score, expected",
    [("score>=1", 1.0, True), ("score>=1", 0.5, False), ("score>0", 0.5, True), ("score>0", 0.0, False),
     ("score==0.5", 0.5, True), ("score<0.2", 0.1, True), ("score<=0.2", 0.3, False)],
)
def test_rules_on_score(rule, score, expected):
    assert SuccessRule.parse(rule).evaluate(Outcome(score=score)) is expected


def test_rule_on_metric_and_missing_value():
    rule = SuccessRule.parse("recall>=0.5")
    assert rule.evaluate(Outcome(metrics={"recall": 0.6})) is True
    assert rule.evaluate(Outcome(score=1.0)) is None


def test_a_given_rule_decides_wherever_its_field_is_the_source_flag_elsewhere():
    rule = SuccessRule.parse("score>0")
    assert rule.explicit and not SuccessRule.parse(None).explicit
    from_source = Outcome(success=False, score=0.5, success_from="source")
    decided = rule.apply(from_source)
    assert decided.success is True and decided.success_from == "rule"
    no_field = Outcome(success=False, metrics={"reward": 1.0}, success_from="source")
    assert rule.apply(no_field).success is False and rule.apply(no_field).success_from == "source"
    from_rule = Outcome(success=False, score=0.5, success_from="rule")
    assert rule.apply(from_rule).success is True
    assert rule.apply(Outcome(success=True, success_from="rule")).success is None  # an old rule's verdict goes


def test_without_a_rule_the_source_flag_wins():
    default = SuccessRule.parse(None)
    kept = default.apply(Outcome(success=False, score=1.0))
    assert kept.success is False and kept.success_from == "source"
    ruled = default.apply(Outcome(score=1.0))
    assert ruled.success is True and ruled.success_from == "rule"


def test_tally_says_what_decided_and_rejects_a_field_no_trace_has():
    rule = SuccessRule.parse("score>=2")
    outcomes = [rule.apply(o) for o in (Outcome(score=2.0), Outcome(score=1.0, success=True),
                                        Outcome(success=True, metrics={"reward": 1}), Outcome())]
    tally = SuccessTally(rule).add_all(outcomes)
    assert (tally.by_rule, tally.by_source, tally.unknown) == (2, 1, 1)
    assert tally.describe() == ("success decided: 2 by your rule score>=2, 1 by the source's own flag (no score), "
                                "1 unknown")
    tally.check()
    missing = SuccessTally(SuccessRule.parse("resolved==1")).add_all(outcomes)
    with pytest.raises(SuccessRuleError, match=r"none of the 4 traces has an outcome field 'resolved'; "
                                               r"the fields they have: reward, score"):
        missing.check()
    SuccessTally(SuccessRule.parse(None)).add_all(outcomes).check()  # the default rule is never an error


@pytest.mark.parametrize("bad", ["score", ">=1", "score=>1", "score>=x"])
def test_bad_rules_are_rejected(bad):
    with pytest.raises(SuccessRuleError):
        SuccessRule.parse(bad)
