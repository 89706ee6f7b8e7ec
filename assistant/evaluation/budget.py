"""The error budget: where each in-scope and out-of-scope question ended up, per file and per kind.

Issue 19's targets are stated in it: out-of-scope questions answered ≤ 3 %, in-scope questions
declined ≤ 3 %. A top-1 figure mixes the two mistakes with a wrong measure; this table keeps them
apart, because they cost differently (a wrong answer misleads; a decline gives the phone number).

Only questions to answer (non-empty ``expect``) or to decline (the decline kinds) are counted;
greetings and context-less follow-ups have their own figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .faq import KINDS

if TYPE_CHECKING:  # results holds the rows; only the type is needed here
    from .results import ItemResult

# Outcome columns, in the order the report shows them.
BUDGET_COLUMNS: tuple[str, ...] = (
    "answered_right",  # in scope, answered, first measure expected
    "wrong_measure",  # in scope, answered, first measure not expected
    "declined_in_scope",  # in scope, declined: the user gets the phone number instead of the measure
    "answered_oos",  # out of scope, answered with a measure: the costliest mistake
    "declined_right",  # out of scope, declined
    "clarified",  # either, answered with 「请问您问的是哪一项」
)
BUDGET_LABELS: Mapping[str, str] = {
    "answered_right": "答对",
    "wrong_measure": "答错条目",
    "declined_in_scope": "误拒(政策内)",
    "answered_oos": "误答(政策外)",
    "declined_right": "正确拒答",
    "clarified": "追问澄清",
}
# Issue 19: at most this share of out-of-scope questions answered, of in-scope ones declined.
BUDGET_LIMITS: Mapping[str, float] = {"oos_answered": 0.03, "in_scope_declined": 0.03}


def budget_class(r: ItemResult) -> str | None:
    """The budget column of one scored question; None when it is not budgeted (greetings…)."""
    target = r.item.target
    if target not in ("answer", "decline"):
        return None
    if r.kind == "clarify":
        return "clarified"
    if target == "decline":
        return "answered_oos" if r.matched else "declined_right"
    if not r.matched:
        return "declined_in_scope"
    firsts = (*r.item.expect, *r.item.expect_all)
    return "answered_right" if r.got and r.got[0] in firsts else "wrong_measure"


@dataclass(frozen=True)
class BudgetRow:
    label: str  # "total" or a kind
    counts: Mapping[str, int]
    n_in_scope: int
    n_oos: int

    @property
    def n(self) -> int:
        return self.n_in_scope + self.n_oos

    @property
    def oos_answered(self) -> float | None:
        return self.counts["answered_oos"] / self.n_oos if self.n_oos else None

    @property
    def in_scope_declined(self) -> float | None:
        return self.counts["declined_in_scope"] / self.n_in_scope if self.n_in_scope else None

    @property
    def in_scope_right(self) -> float | None:
        return self.counts["answered_right"] / self.n_in_scope if self.n_in_scope else None

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "n": self.n,
            "n_in_scope": self.n_in_scope,
            "n_oos": self.n_oos,
            **{c: self.counts[c] for c in BUDGET_COLUMNS},
            "oos_answered": r(self.oos_answered),
            "in_scope_declined": r(self.in_scope_declined),
            "in_scope_right": r(self.in_scope_right),
        }


def _row(label: str, results: Sequence[ItemResult]) -> BudgetRow:
    counts = dict.fromkeys(BUDGET_COLUMNS, 0)
    n_in = n_oos = 0
    for r in results:
        c = budget_class(r)
        if c is None:
            continue
        counts[c] += 1
        if r.item.target == "answer":
            n_in += 1
        else:
            n_oos += 1
    return BudgetRow(label, counts, n_in, n_oos)


def error_budget(results: Sequence[ItemResult]) -> tuple[BudgetRow, ...]:
    """The file's total row, then one row per kind that has budgeted questions (in KINDS order)."""
    rows = [_row("total", results)]
    for kind in KINDS:
        row = _row(kind, [r for r in results if r.item.kind == kind])
        if row.n:
            rows.append(row)
    return tuple(rows)


def budget_dict(rows: Sequence[BudgetRow]) -> dict[str, Any]:
    if not rows:
        return {}
    return {"total": rows[0].to_dict(), "by_kind": {r.label: r.to_dict() for r in rows[1:]}}


__all__ = [
    "BUDGET_COLUMNS",
    "BUDGET_LABELS",
    "BUDGET_LIMITS",
    "BudgetRow",
    "budget_class",
    "budget_dict",
    "error_budget",
]
