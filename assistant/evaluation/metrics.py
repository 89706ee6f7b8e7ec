"""Answer-quality metrics beyond "is the right measure first" (issues 8 and 10): are the key
sentences the ones that hold the fact, does a follow-up stay on topic, is a list complete, are
other places and neighbouring services declined.

Each is a pure function of the scored items; a metric over no items is None (shown "—"), never
a misleading 0 or 100 %. Definitions, for people, are in eval/README.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .results import AnswerMetric, ItemResult, mean_of


@dataclass(frozen=True)
class MetricSpec:
    key: str
    title: str  # for the table and the report
    hint: str
    unit: str = "share"  # "share" (shown as %) or "count" (a mean number of measures)
    better: str = "higher"  # "higher", "lower", or "none" (a list's length is neither good nor bad)


ANSWER_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("fact_in_highlights", "要点句含数字", "数字事实题答对时,must 中的数字都在首条的要点句里"),
    MetricSpec("highlight_share", "要点句占原文", "多句措施中,要点句长度占原文的平均比例", better="lower"),
    MetricSpec("highlight_empty", "无要点句", "作答的多句措施中没有要点句的比例", better="lower"),
    MetricSpec("followup_accuracy", "追问准确率", "带上文的追问,首条在 expect 中"),
    MetricSpec("clarify_rate", "无上文追问澄清率", "没有上文的省略式追问,答复为“请问您问的是哪一项”"),
    MetricSpec("group_recall", "人群列举召回", "人群问题中 expect_all 被列出的平均比例"),
    MetricSpec("group_list_len", "人群列举条数", "人群问题答复平均列出几条", unit="count", better="none"),
    MetricSpec("group_list_excess", "人群列举多余", "列出条数 − 应列条数 的平均", unit="count", better="lower"),
    MetricSpec("multi_recall", "一问两事召回", "两部分问题中 expect_all 被列出的平均比例"),
    MetricSpec("multi_list_len", "一问两事条数", "两部分问题答复平均列出几条", unit="count", better="none"),
    MetricSpec("multi_list_excess", "一问两事多余", "列出条数 − 应列条数 的平均", unit="count", better="lower"),
    MetricSpec("other_place_declined", "外地问题拒答", "问其他城市/区县的问题被拒答的比例"),
    MetricSpec("chain_answered", "青岛/山东问题作答", "问青岛、山东的问题首条正确"),
    MetricSpec("neighbour_declined", "相邻事务拒答", "落户、职称、残保金等本文件未涉及的事务被拒答"),
    MetricSpec("search_in_scope_top1", "搜索式提问 top-1", "关键词、年份、最新、青岛/山东 类问题首条正确"),
    MetricSpec("not_stated_right", "未写明事实", "文件未写明的时间/金额:首条正确且含 must"),
)
SPECS = {s.key: s for s in ANSWER_METRICS}

# Sentence ends as the corpus parser splits measures (assistant/corpus.py): the share of the
# quote is only meaningful where the quote has more than one sentence to choose from.
_SENTENCE_ENDS = "。！？；"
SEARCH_KINDS = frozenset({"keywords", "year", "latest", "place_chain"})


def count_sentences(text: str) -> int:
    parts = [text]
    for end in _SENTENCE_ENDS:
        parts = [piece for part in parts for piece in part.split(end)]
    return sum(1 for p in parts if p.strip())


def _first_expected(r: ItemResult) -> bool:
    return r.matched and bool(r.got) and r.got[0] in r.item.expect


def _over(
    results: Sequence[ItemResult], keep: Callable[[ItemResult], bool], value: Callable[[ItemResult], float]
) -> tuple[float | None, int]:
    rs = [r for r in results if keep(r)]
    return mean_of([value(r) for r in rs]), len(rs)


def _list_metrics(results: Sequence[ItemResult], kind: str) -> dict[str, tuple[float | None, int]]:
    rs = [r for r in results if r.item.kind == kind and r.item.expect_all]
    return {
        f"{kind}_recall": (mean_of([r.recall or 0.0 for r in rs]), len(rs)),
        f"{kind}_list_len": (mean_of([float(len(r.got)) for r in rs]), len(rs)),
        f"{kind}_list_excess": (mean_of([float(len(r.got) - len(r.item.expect_all)) for r in rs]), len(rs)),
    }


def answer_metrics(results: Sequence[ItemResult]) -> tuple[AnswerMetric, ...]:
    """Every metric of ANSWER_METRICS over the scored items, in that order."""
    # A highlight is judged where there is something to choose: an answered in-scope question
    # whose first measure has at least two sentences.
    multi_sentence = [
        r for r in results if r.item.target == "answer" and r.matched and r.got and r.quote_sentences >= 2
    ]
    with_highlights = [r for r in multi_sentence if r.highlights]
    figures: dict[str, tuple[float | None, int]] = {
        "fact_in_highlights": _over(
            results,
            lambda r: r.item.kind == "fact" and bool(r.item.must) and _first_expected(r),
            lambda r: float(all(m in "".join(r.highlights) for m in r.item.must)),
        ),
        "highlight_share": (
            mean_of([len("".join(r.highlights)) / r.quote_chars for r in with_highlights if r.quote_chars]),
            len(with_highlights),
        ),
        "highlight_empty": (mean_of([float(not r.highlights) for r in multi_sentence]), len(multi_sentence)),
        "followup_accuracy": _over(results, lambda r: r.item.kind == "followup", lambda r: float(r.correct)),
        "clarify_rate": _over(results, lambda r: r.item.kind == "clarify", lambda r: float(r.kind == "clarify")),
        **_list_metrics(results, "group"),
        **_list_metrics(results, "multi"),
        "other_place_declined": _over(results, lambda r: r.item.kind == "place_other", lambda r: float(not r.matched)),
        "chain_answered": _over(results, lambda r: r.item.kind == "place_chain", lambda r: float(_first_expected(r))),
        "neighbour_declined": _over(results, lambda r: r.item.kind == "neighbour", lambda r: float(not r.matched)),
        "search_in_scope_top1": _over(results, lambda r: r.item.kind in SEARCH_KINDS, lambda r: float(r.correct)),
        "not_stated_right": _over(
            results,
            lambda r: r.item.kind == "not_stated",
            lambda r: float(_first_expected(r) and not r.must_missing),
        ),
    }
    return tuple(AnswerMetric(s.key, *figures[s.key]) for s in ANSWER_METRICS)
