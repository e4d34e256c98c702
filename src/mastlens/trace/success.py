"""Success rules: ``<field><op><number>`` applied to a trace's outcome (default ``score>=1``).

A rule the user gives (``--success``) decides every trace whose outcome has the field (``score`` or a
metric); the source's own success flag is kept only for traces without it. Without a rule, the source's
flag wins and the default rule decides the traces that have none. :class:`SuccessTally` counts which
one decided and says so; it also catches a rule naming a field that no trace has.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Callable

from mastlens.trace.models import Outcome

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}
_RULE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")

DEFAULT_SUCCESS_RULE = "score>=1"


class SuccessRuleError(ValueError):
    pass


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def outcome_fields(outcome: Outcome) -> set[str]:
    """The fields of an outcome a rule can name: ``score`` and the numeric metrics."""
    found = {k for k, v in outcome.metrics.items() if _number(v) is not None}
    if outcome.score is not None:
        found.add("score")
    return found


@dataclass(frozen=True)
class SuccessRule:
    field: str
    op: str
    threshold: float
    #: given by the user: decides wherever its field is, over the source's own flag
    explicit: bool = True

    @classmethod
    def parse(cls, text: str | None) -> SuccessRule:
        m = _RULE.match(text or DEFAULT_SUCCESS_RULE)
        if not m:
            raise SuccessRuleError(
                f"bad success rule {text!r}: expected <field><op><number>, e.g. 'score>=1' or 'score>0'"
            )
        return cls(m.group(1), m.group(2), float(m.group(3)), explicit=bool(text))

    def __str__(self) -> str:
        return f"{self.field}{self.op}{self.threshold:g}"

    def value(self, outcome: Outcome) -> float | None:
        return _number(outcome.score if self.field == "score" else outcome.metrics.get(self.field))

    def evaluate(self, outcome: Outcome) -> bool | None:
        """True/False by the rule, or None when the field is missing or not a number."""
        value = self.value(outcome)
        return None if value is None else _OPS[self.op](value, self.threshold)

    def apply(self, outcome: Outcome, *, override: bool = False) -> Outcome:
        """Outcome with success set and ``success_from`` saying what decided it ("rule" or "source").
        A user's rule (or ``override``) decides wherever its field is; the default rule only where the
        source gave no flag of its own."""
        source_flag = outcome.success is not None and outcome.success_from != "rule"
        result = self.evaluate(outcome)
        if result is not None and (self.explicit or override or not source_flag):
            return outcome.model_copy(update={"success": result, "success_from": "rule"})
        if source_flag:
            return outcome if outcome.success_from == "source" else outcome.model_copy(update={"success_from": "source"})
        return outcome.model_copy(update={"success": None, "success_from": None})


@dataclass
class SuccessTally:
    """What decided success over a set of traces, and the outcome fields they have."""

    rule: SuccessRule | None  # None: the success stored at ingest, as it is
    by_rule: int = 0
    by_source: int = 0
    unknown: int = 0
    fields: set[str] = field(default_factory=set)

    def add(self, outcome: Outcome) -> None:
        """Count one trace's outcome, as :meth:`SuccessRule.apply` left it."""
        self.fields |= outcome_fields(outcome)
        if outcome.success is None:
            self.unknown += 1
        elif outcome.success_from == "rule":
            self.by_rule += 1
        else:
            self.by_source += 1

    def add_all(self, outcomes: Iterable[Outcome]) -> SuccessTally:
        for outcome in outcomes:
            self.add(outcome)
        return self

    @property
    def total(self) -> int:
        return self.by_rule + self.by_source + self.unknown

    def check(self) -> None:
        """A user's rule naming a field that none of the traces has is an error naming the fields there are."""
        if self.rule is None or not self.rule.explicit or not self.total or self.rule.field in self.fields:
            return
        there = ", ".join(sorted(self.fields)) if self.fields else "none (no score or numeric metric)"
        raise SuccessRuleError(f"success rule {str(self.rule)!r}: none of the {self.total} traces has an outcome "
                               f"field {self.rule.field!r}; the fields they have: {there}")

    def describe(self) -> str:
        """One line: which rule, and how many traces it, the source's flag, or nothing decided."""
        if self.rule is None:
            parts = [f"{self.by_rule} by the rule given at ingest"]
        else:
            parts = [f"{self.by_rule} by {'your' if self.rule.explicit else 'the default'} rule {self.rule}"]
        if self.by_source:
            missing = f" (no {self.rule.field})" if self.rule is not None and self.rule.explicit else ""
            parts.append(f"{self.by_source} by the source's own flag{missing}")
        if self.unknown:
            parts.append(f"{self.unknown} unknown")
        return "success decided: " + ", ".join(parts)
