"""The evaluation: FAQ loading, metric arithmetic, the eval command and the report.

Fast tests use the model-free "chars" embedder with a private index, and questions whose outcome
does not depend on ranking quality (measure numbers, greetings, gibberish), so that retrieval
tuning cannot break them. The arithmetic itself is checked on hand-made answers. One test, marked
`model`, runs the real FAQ set with the default e5 embedder: the CI quality gate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant import Assistant
from assistant.answer import Answer, MeasureAnswer
from assistant.cli import main
from assistant.cli_eval import format_table
from assistant.embed import get_embedder
from assistant.evaluation import (
    ANSWER_METRICS,
    EvalReport,
    FaqError,
    FaqItem,
    ItemResult,
    ablation,
    evaluate,
    load_faq,
    render_report,
    score_item,
    summarize,
)

REPO = Path(__file__).resolve().parent.parent
PHONE = "0532-58659939"
# Quality gate on eval/faq.jsonl with the default embedder: issue 4's target. Measured 0.986 when
# this was set (held-out 0.939); the margin lets a harmless tie-break change pass CI, while a real
# regression (a broken glossary, lost typo repair, a threshold gone wrong) does. It only goes up:
# raise it after a tuning round that also holds on eval/faq_holdout.jsonl.
# Issue 19 added 40 questions about benefits the policy does not contain (「孩子上幼儿园有补助吗」…): the
# decision before it scored 0.935 on the file with them, the fitted decision 0.96.
FLOOR = 0.96

JSON_KEYS = {
    "n", "top1", "hit3", "mrr", "no_match_precision", "no_match_recall",
    "must", "complete", "p50_ms", "p95_ms", "by_kind", "failures",
}  # fmt: skip


def write_faq(path: Path, rows: list[dict | str]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8"
    )
    return path


def row(q: str, expect: list[str], kind: str, must: list[str] | None = None) -> dict:
    return {"q": q, "expect": expect, "must": must or [], "kind": kind}


# Outcomes these rely on: "第N条" is a direct reference, "你好" a greeting, 火锅/gibberish share
# no vocabulary with the policy. "第三条" is deliberately expected to be m5: a wrong FAQ line.
TINY = [
    row("第7条", ["m7"], "number", ["全额补贴"]),
    row("第三条讲的啥", ["m5"], "number"),
    row("城阳哪家火锅好吃", [], "oos", [PHONE]),
    row("asdkjhqwe", [], "oos"),
    row("你好", [], "greeting"),
    row("措施8讲的什么", ["m8"], "number", ["4%", "这句话不在政策里"]),
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index directory for the command-line tests (built by the first of them)."""
    return tmp_path_factory.mktemp("index-chars-cli")


@pytest.fixture
def bot(chars_assistant: Assistant) -> Assistant:
    return chars_assistant


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_faq(tmp_path / "tiny.jsonl", TINY)


# -- metrics on a real (model-free) assistant ------------------------------------------------------


def test_metrics_on_a_tiny_faq(bot: Assistant, tiny: Path) -> None:
    report = evaluate(bot, load_faq(tiny, [c.id for c in bot.chunks]))

    assert (report.n, report.n_in_scope, report.n_oos, report.n_greeting) == (6, 3, 2, 1)
    # Correct: 第7条, 火锅 and asdkjhqwe declined, 你好, 措施8. Wrong: 第三条 (expects m5).
    assert report.top1 == pytest.approx(5 / 6)
    assert report.top1_in_scope == pytest.approx(2 / 3)
    assert report.hit3 == pytest.approx(2 / 3)
    # Both out-of-scope questions declined, nothing in scope declined.
    assert report.no_match_recall == 1.0
    assert report.no_match_precision == 1.0
    # 4 must substrings in all; the invented sentence is the one missing.
    assert report.must == pytest.approx(3 / 4)
    assert report.complete == 1.0
    assert 0 < report.p50_ms <= report.p95_ms

    failures = {r.item.q: r for r in report.failures}
    assert set(failures) == {"第三条讲的啥", "措施8讲的什么"}
    wrong = failures["第三条讲的啥"]
    assert wrong.problem == "wrong_measure" and wrong.got[0] == "m3"
    assert (wrong.item.source, wrong.item.line) == (str(tiny), 2)
    assert failures["措施8讲的什么"].problem == "must_missing"
    assert failures["措施8讲的什么"].must_missing == ("这句话不在政策里",)
    assert [(c.expected, c.got, c.count) for c in report.confusions] == [("m5", "m3", 1)]

    kinds = {k.kind: k for k in report.by_kind}
    assert (kinds["number"].n, kinds["number"].correct) == (3, 2)
    assert kinds["oos"].top1 == 1.0 and kinds["oos"].hit3 is None
    assert kinds["greeting"].top1 == 1.0

    d = report.to_dict()
    assert JSON_KEYS <= set(d)
    json.dumps(d, ensure_ascii=False)  # serialisable as it stands
    assert d["failures"][0]["q"] == "第三条讲的啥" and d["failures"][0]["got"][0] == "m3"


def test_evaluate_checks_expected_ids_against_the_corpus(bot: Assistant, tmp_path: Path) -> None:
    items = load_faq(
        write_faq(tmp_path / "f.jsonl", [TINY[0], row("第9条", ["m99"], "number")])
    )  # no corpus check here
    with pytest.raises(FaqError, match=r"f\.jsonl:2: .*'m99'"):
        evaluate(bot, items)


# -- metric arithmetic on hand-made answers --------------------------------------------------------


def answer(
    matched: bool,
    ids: tuple[str, ...] = (),
    kind: str | None = None,
    text: str = f"区财政局 {PHONE}",  # complete: the phone and the lead unit
    units=("区财政局",),
    quote: str = "q",
    highlights: tuple[str, ...] = (),
) -> Answer:
    """A hand-made answer; the first measure carries `quote` and `highlights`, the others none."""
    measures = tuple(
        MeasureAnswer(
            id=i,
            number=None,
            doc="d",
            title="t",
            section="s",
            quote=quote if n == 0 else "q",
            highlights=highlights if n == 0 else (),
            lead_units=tuple(units),
            notes=(),
            score=0.5,
        )
        for n, i in enumerate(ids)
    )
    return Answer("q", matched, kind or ("answer" if matched else "no_match"), measures, PHONE, text)


def item(
    expect: tuple[str, ...],
    kind: str,
    must: tuple[str, ...] = (),
    context: tuple[str, ...] = (),
    expect_all: tuple[str, ...] = (),
) -> FaqItem:
    return FaqItem(
        q=f"q-{kind}-{expect}-{context}",
        expect=expect,
        must=must,
        kind=kind,
        source="x.jsonl",
        line=1,
        context=context,
        expect_all=expect_all,
    )


def scored(it: FaqItem, ans: Answer) -> ItemResult:
    return score_item(it, ans, None, 1.0)


def metric(report: EvalReport, key: str) -> tuple[float | None, int | None]:
    return report.figure(key), report.figure_n(key)


def test_no_match_precision_and_recall() -> None:
    results = [
        score_item(item(("m1",), "direct"), answer(True, ("m1",), text=f"区财政局 {PHONE}"), None, 1.0),  # right
        score_item(item(("m2",), "direct"), answer(False), None, 1.0),  # false decline
        score_item(item((), "oos"), answer(False), None, 1.0),  # declined: true positive
        score_item(item((), "oos"), answer(False), None, 1.0),  # declined: true positive
        score_item(item((), "oos"), answer(True, ("m3",), text=f"区财政局 {PHONE}"), None, 1.0),  # false accept
        score_item(item((), "greeting"), answer(False, kind="greeting"), None, 1.0),  # not in the confusion
    ]
    report = summarize(results, "x.jsonl")
    assert report.no_match_recall == pytest.approx(2 / 3)  # 2 of 3 oos declined
    assert report.no_match_precision == pytest.approx(2 / 3)  # 3 declines, one of them in scope
    assert report.top1 == pytest.approx(4 / 6)
    assert [r.problem for r in report.failures] == ["false_decline", "false_accept"]


def test_error_budget_keeps_the_mistakes_apart_per_file_and_kind() -> None:
    results = [
        scored(item(("m1",), "direct"), answer(True, ("m1",))),  # answered right
        scored(item(("m1",), "direct"), answer(True, ("m2",))),  # wrong measure
        scored(item(("m2",), "colloquial"), answer(False)),  # declined in scope
        scored(item((), "oos"), answer(True, ("m3",))),  # out of scope answered
        scored(item((), "oos"), answer(False)),  # declined right
        scored(item((), "neighbour"), answer(False, kind="clarify")),  # clarified
        scored(item((), "greeting"), answer(False, kind="greeting")),  # not budgeted
    ]
    report = summarize(results, "x.jsonl")
    total = report.to_dict()["budget"]["total"]
    assert (total["answered_right"], total["wrong_measure"], total["declined_in_scope"]) == (1, 1, 1)
    assert (total["answered_oos"], total["declined_right"], total["clarified"]) == (1, 1, 1)
    assert total["n"] == 6 and total["oos_answered"] == pytest.approx(1 / 3, abs=1e-3)
    assert total["in_scope_declined"] == pytest.approx(1 / 3, abs=1e-3)
    by_kind = report.to_dict()["budget"]["by_kind"]
    assert by_kind["direct"]["wrong_measure"] == 1 and by_kind["oos"]["answered_oos"] == 1
    assert "greeting" not in by_kind
    html = render_report([report])
    assert "误差预算" in html and "误答(政策外)" in html and "33.3%" in html


def test_hit3_mrr_and_completeness() -> None:
    r = score_item(item(("m2",), "direct"), answer(True, ("m1", "m2"), text="区财政局"), None, 1.0)
    assert not r.correct and r.hit3
    assert r.incomplete == (f"电话 {PHONE}",)  # the phone is missing from the text
    lacking_unit = score_item(item(("m1",), "direct"), answer(True, ("m1",), text=PHONE), None, 1.0)
    assert lacking_unit.correct and lacking_unit.incomplete == ("m1 责任单位 区财政局",)
    report = summarize([r, lacking_unit])
    assert report.complete == 0.0
    assert report.hit3 == 1.0 and report.top1_in_scope == 0.5
    assert report.must is None  # no must substrings at all: undefined, not 100 %


def test_greeting_answered_as_policy_is_a_failure() -> None:
    r = score_item(item((), "greeting"), answer(False), None, 1.0)
    assert r.problem == "greeting_missed"


# -- answer-quality metrics (issues 8 and 10) on hand-made answers -----------------------------------

QUOTE = "甲。乙乙。丙丙丙。"  # three sentences, 9 characters


def test_fact_in_highlights_counts_only_facts_answered_right() -> None:
    results = [
        scored(item(("m3",), "fact", ("100元",)), answer(True, ("m3",), highlights=("每人每年不高于100元。",))),
        # Both figures asked; the highlight holds only one.
        scored(item(("m8",), "fact", ("4%", "3000万元")), answer(True, ("m8",), highlights=("不超过4%。",))),
        # Left out: the wrong measure first, no figure asked, not a fact question.
        scored(item(("m7",), "fact", ("2025年12月31日",)), answer(True, ("m8",), highlights=("2025年12月31日",))),
        scored(item(("m9",), "fact"), answer(True, ("m9",))),
        scored(item(("m3",), "colloquial", ("100元",)), answer(True, ("m3",))),
    ]
    assert metric(summarize(results), "fact_in_highlights") == (0.5, 2)


def test_highlight_share_and_empty_over_multi_sentence_answers() -> None:
    results = [
        scored(item(("m1",), "direct"), answer(True, ("m1",), quote=QUOTE, highlights=("乙乙。",))),
        scored(item(("m2",), "direct"), answer(True, ("m2",), quote=QUOTE)),  # no highlight
        # Left out: a one-sentence quote, a declined question, an out-of-scope one answered.
        scored(item(("m3",), "direct"), answer(True, ("m3",), quote="只有一句。")),
        scored(item(("m4",), "direct"), answer(False)),
        scored(item((), "oos"), answer(True, ("m5",), quote=QUOTE, highlights=("甲。",))),
    ]
    report = summarize(results)
    assert metric(report, "highlight_share") == (pytest.approx(3 / 9), 1)
    assert metric(report, "highlight_empty") == (0.5, 2)


def test_followup_accuracy_and_context_kept_apart_from_declines() -> None:
    results = [
        scored(item(("m7",), "followup", context=("m7",)), answer(True, ("m7",))),
        scored(item(("m12",), "followup", context=("m7",)), answer(True, ("m7",))),  # stuck to the context
        scored(item((), "oos", context=("m7",)), answer(False)),  # off-topic after m7: declined, not a follow-up
    ]
    report = summarize(results)
    assert metric(report, "followup_accuracy") == (0.5, 2)
    assert results[1].problem == "wrong_measure"
    assert results[2].correct
    assert report.to_dict()["failures"][0]["context"] == ["m7"]


def test_clarify_rate_and_clarify_is_not_a_decline() -> None:
    results = [
        scored(item((), "clarify"), answer(False, kind="clarify")),
        scored(item((), "clarify"), answer(True, ("m3",))),  # answered at random
        scored(item((), "clarify"), answer(False)),  # declined: not what was asked either
        scored(item((), "oos"), answer(False, kind="clarify")),  # a clarify reply declines an oos question
    ]
    report = summarize(results)
    assert metric(report, "clarify_rate") == (pytest.approx(1 / 3), 3)
    assert [r.problem for r in results] == [None, "clarify_missed", "clarify_missed", None]
    assert report.n_clarify == 3 and report.n_oos == 1
    # Clarify items stay out of the no-match confusion: one oos item, declined.
    assert report.no_match_recall == 1.0 and report.no_match_precision == 1.0
    assert [(c.expected, c.got) for c in report.confusions] == [("clarify", "m3"), ("clarify", "no_match")]


def test_group_lists_recall_length_and_excess() -> None:
    group = item(("m7", "m8", "m13"), "group", expect_all=("m7", "m8", "m13"))
    results = [
        scored(group, answer(True, ("m13", "m8", "m7", "m4"))),  # all three and one more
        scored(group, answer(True, ("m13",))),  # one of three
        # All listed, but led by a measure that is not in the list: wrong first measure.
        scored(group, answer(True, ("m4", "m7", "m8", "m13"))),
    ]
    report = summarize(results)
    assert metric(report, "group_recall") == (pytest.approx((1 + 1 / 3 + 1) / 3), 3)
    assert metric(report, "group_list_len") == (pytest.approx(3.0), 3)
    assert metric(report, "group_list_excess") == (pytest.approx((1 - 2 + 1) / 3), 3)
    assert [r.problem for r in results] == [None, "list_incomplete", "wrong_measure"]
    assert results[1].missing == ("m7", "m8") and results[1].recall == pytest.approx(1 / 3)
    assert report.top1 == pytest.approx(1 / 3)
    assert ("m7/m8/m13", "漏列 m7、m8") in [(c.expected, c.got) for c in report.confusions]
    assert metric(report, "multi_recall") == (None, 0)  # no two-part question in this set


def test_multi_part_may_lead_with_either_part() -> None:
    two = item(("m13",), "multi", expect_all=("m13", "m14"))
    results = [
        scored(two, answer(True, ("m14", "m13"))),  # second part first: still both answered
        scored(two, answer(True, ("m13",))),
        scored(two, answer(False)),
    ]
    report = summarize(results)
    assert [r.problem for r in results] == [None, "list_incomplete", "false_decline"]
    assert metric(report, "multi_recall") == (pytest.approx(0.5), 3)
    assert metric(report, "multi_list_len") == (pytest.approx(1.0), 3)
    assert metric(report, "multi_list_excess") == (pytest.approx(-1.0), 3)


def test_search_style_metrics_of_issue_10() -> None:
    results = [
        scored(item((), "place_other"), answer(False)),
        scored(item((), "place_other"), answer(True, ("m3",))),  # another city answered with ours
        scored(item(("m3",), "place_chain"), answer(True, ("m3",))),
        scored(item((), "neighbour"), answer(False)),
        scored(item(("m8",), "keywords"), answer(True, ("m7",))),
        scored(item(("m7",), "year"), answer(True, ("m7",))),
        scored(item(("m8",), "latest"), answer(True, ("m8",))),
        scored(item(("m13",), "not_stated", ("创业担保贷款",)), answer(True, ("m13",), text=f"创业担保贷款 {PHONE}")),
        scored(item(("m13",), "not_stated", ("创业担保贷款",)), answer(True, ("m13",))),  # must missing
    ]
    report = summarize(results)
    assert metric(report, "other_place_declined") == (0.5, 2)
    assert metric(report, "chain_answered") == (1.0, 1)
    assert metric(report, "neighbour_declined") == (1.0, 1)
    assert metric(report, "search_in_scope_top1") == (0.75, 4)  # keywords, year, latest, place_chain
    assert metric(report, "not_stated_right") == (0.5, 2)
    # Other places and neighbours are declines: the no-match confusion counts them with oos.
    assert report.n_oos == 3 and report.no_match_recall == pytest.approx(2 / 3)
    assert results[1].problem == "false_accept"


def test_answer_metrics_without_items_are_none_and_shown_as_dash() -> None:
    report = summarize([scored(item(("m1",), "direct"), answer(True, ("m1",), text=f"区财政局 {PHONE}"))], "x.jsonl")
    d = report.to_dict()
    for spec in ANSWER_METRICS:
        if spec.key.startswith("highlight_"):
            continue  # the one answer above qualifies for neither (one-sentence quote)
        assert d[spec.key] is None and d["answer_metrics_n"][spec.key] == 0
    json.dumps(d)
    table = format_table([report])
    assert "答复质量" in table and "追问准确率" in table
    assert re.search(r"追问准确率\s+—", table)
    html = render_report([report])
    assert "答复质量" in html and "要点句含数字" in html
    # Under the main file's name every bar applies, yet a figure without items is not marked missed.
    main_named = summarize(report.results, "faq.jsonl")
    assert main_named.figure("followup_accuracy") is None
    assert "✗" not in render_report([main_named]) and "✗" not in format_table([main_named])


def test_targets_are_marked_both_ways() -> None:
    good = item(("m3",), "fact", ("100元",))
    long_quote = "一句。" * 4  # highlights of 3 of 4 sentences: more than half the quote
    results = [scored(good, answer(True, ("m3",), quote=long_quote, highlights=("100元一句。一句。一句。",)))]
    report = summarize(results, "faq.jsonl")
    html = render_report([report])
    # fact_in_highlights met (≥ 95 %), highlight_share missed (≤ 50 %): both marks appear.
    assert "目标 ≥ 95.0%" in html and "目标 ≤ 50.0%" in html
    table = format_table([report])
    assert re.search(r"要点句含数字\s+1\.000 \(1\) ✓", table)
    assert re.search(r"要点句占原文\s+\S+ \(1\) ✗", table)


# -- evaluate() asks with context only when the item has one ----------------------------------------


class FakeBot:
    """Answers every question with m7; records how `ask` was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.chunks = [SimpleNamespace(id=i) for i in ("m3", "m7", "m12")]

    def ask(self, question: str, top_k: int = 3, **kwargs: Sequence[str]) -> Answer:
        self.calls.append((question, kwargs))
        return answer(True, ("m7",), text=f"区财政局 {PHONE}")

    def retrieve(self, question: str, top_k: int = 3) -> None:
        return None


def test_evaluate_passes_context_only_for_followups() -> None:
    bot = FakeBot()
    items = [item(("m7",), "direct"), item(("m12",), "followup", context=("m7", "m3"))]
    report = evaluate(bot, items)  # type: ignore[arg-type]  # a fake with the same ask/retrieve
    asked = bot.calls[1:]  # the first call is the untimed warm-up
    assert asked == [(items[0].q, {}), (items[1].q, {"context": ["m7", "m3"]})]
    assert metric(report, "followup_accuracy") == (0.0, 1)


# -- load_faq errors name the file and line ------------------------------------------------------

BAD_LINES = [
    ('{"q": "第7条", "expect": ["m7"], "must": [], "kind": "number"', "不是有效的 JSON"),
    ('["第7条"]', "JSON 对象"),
    ('{"q": "第7条", "expect": ["m7"], "kind": "number"}', "缺少字段 must"),
    ('{"q": "第7条", "expect": ["m7"], "must": [], "kind": "number", "expects": []}', "未知字段 expects"),
    ('{"q": "  ", "expect": ["m7"], "must": [], "kind": "number"}', "不能为空"),
    ('{"q": "第7条", "expect": ["m7"], "must": [], "kind": "question"}', "未知的 kind 'question'"),
    ('{"q": "第7条", "expect": "m7", "must": [], "kind": "number"}', "expect 应为"),
    ('{"q": "第7条", "expect": ["m7"], "must": [1], "kind": "number"}', "must 应为"),
    ('{"q": "火锅", "expect": ["m7"], "must": [], "kind": "oos"}', "expect 应为空"),
    ('{"q": "第7条", "expect": [], "must": [], "kind": "number"}', "需要 expect"),
    ('{"q": "第一条", "expect": ["m1"], "must": [], "kind": "number"}', "与第 1 行重复"),
    # context and expect_all (issue 8)
    ('{"q": "那找谁", "context": "m7", "expect": ["m7"], "must": [], "kind": "followup"}', "context 应为"),
    ('{"q": "那找谁", "context": [], "expect": ["m7"], "must": [], "kind": "followup"}', "context 不能为空"),
    ('{"q": "那找谁", "expect": ["m7"], "must": [], "kind": "followup"}', "需要 context"),
    ('{"q": "那找谁", "context": ["m7"], "expect": [], "must": [], "kind": "clarify"}', "不能有 context"),
    ('{"q": "那找谁", "expect": ["m7"], "must": [], "kind": "clarify"}', "expect 应为空"),
    ('{"q": "A和B", "expect": ["m13"], "must": [], "kind": "multi"}', "需要 expect_all"),
    ('{"q": "A和B", "expect": ["m13"], "expect_all": [], "must": [], "kind": "multi"}', "expect_all 不能为空"),
    ('{"q": "A和B", "expect": ["m13"], "expect_all": ["m14", "m14"], "must": [], "kind": "multi"}', "expect_all 中有重复"),
    ('{"q": "火锅", "expect": [], "expect_all": ["m3"], "must": [], "kind": "oos"}', "不能有 expect_all"),
    ('{"q": "广州补贴", "expect": ["m3"], "must": [], "kind": "place_other"}', "expect 应为空"),
    ('{"q": "补贴 2020", "expect": [], "must": [], "kind": "year"}', "需要 expect"),
    ('{"q": "那找谁", "expect": ["m7"], "must": [], "kind": "follow-up"}', "未知的 kind 'follow-up'"),
    ('{"q": "那找谁", "contexts": ["m7"], "expect": ["m7"], "must": [], "kind": "followup"}', "未知字段 contexts"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_load_faq_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = write_faq(tmp_path / "bad.jsonl", [row("第一条", ["m1"], "number"), "", line])
    with pytest.raises(FaqError) as err:
        load_faq(path)
    assert (err.value.path, err.value.line) == (str(path), 3)
    assert "bad.jsonl:3: " in str(err.value) and reason in str(err.value)


def test_load_faq_unknown_id_and_file_errors(tmp_path: Path) -> None:
    path = write_faq(tmp_path / "ids.jsonl", [row("第一条", ["m1"], "number"), row("第21条", ["m21"], "number")])
    assert len(load_faq(path)) == 2  # ids are only checked against a corpus when one is given
    with pytest.raises(FaqError, match=r"ids\.jsonl:2: expect 中的 'm21' 不是语料中的条目编号"):
        load_faq(path, ["m1", "m2"])
    with pytest.raises(FaqError, match="文件不存在"):
        load_faq(tmp_path / "missing.jsonl")
    with pytest.raises(FaqError, match="没有问题"):
        load_faq(write_faq(tmp_path / "empty.jsonl", ["", "  "]))


def test_load_faq_context_and_expect_all(tmp_path: Path) -> None:
    path = write_faq(
        tmp_path / "conv.jsonl",
        [
            {"q": "怎么申请？", "context": ["m3"], "expect": ["m3"], "must": [], "kind": "followup"},
            # The same words without context (or after another answer) are another question.
            {"q": "怎么申请？", "expect": [], "must": [PHONE], "kind": "clarify"},
            {"q": "怎么申请？", "context": ["m13"], "expect": ["m13"], "must": [], "kind": "followup"},
            {"q": "A和B", "expect": ["m13"], "expect_all": ["m13", "m14"], "must": [], "kind": "multi"},
        ],
    )
    items = load_faq(path, [f"m{n}" for n in range(1, 21)])
    assert [(i.kind, i.context, i.target) for i in items[:3]] == [
        ("followup", ("m3",), "answer"),
        ("clarify", (), "clarify"),
        ("followup", ("m13",), "answer"),
    ]
    assert items[3].expect_all == ("m13", "m14")
    dup = write_faq(tmp_path / "dup.jsonl", [path.read_text("utf-8").splitlines()[0]] * 2)
    with pytest.raises(FaqError, match=r"dup\.jsonl:2: 问题与第 1 行重复"):
        load_faq(dup)
    # Ids in context and expect_all are checked against the corpus like expect.
    ctx = write_faq(
        tmp_path / "ctx.jsonl", [{"q": "那呢", "context": ["m99"], "expect": ["m3"], "must": [], "kind": "followup"}]
    )
    with pytest.raises(FaqError, match=r"ctx\.jsonl:1: context 中的 'm99'"):
        load_faq(ctx, ["m3"])
    with pytest.raises(FaqError, match=r"conv\.jsonl:4: expect_all 中的 'm14'"):
        load_faq(path, ["m3", "m13"])


def test_repo_faq_files_are_valid(bot: Assistant) -> None:
    ids = [c.id for c in bot.chunks]
    main_set = load_faq(REPO / "eval" / "faq.jsonl", ids)
    holdout = load_faq(REPO / "eval" / "faq_holdout.jsonl", ids)
    assert len(main_set) >= 200 and len(holdout) >= 50
    assert not {i.q for i in main_set} & {i.q for i in holdout}  # the held-out set shares no question

    def conversational(items: Sequence[FaqItem]) -> int:  # the kinds issue 8 added
        return sum(1 for i in items if i.context or i.expect_all or i.kind == "clarify")

    assert conversational(main_set) >= 60 and conversational(holdout) >= 25


# -- the command and the report --------------------------------------------------------------------


def test_eval_command_json_last_line(tiny: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "--faq", str(tiny), "--index", str(index_dir), "--embedder", "chars", "--json", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    data = json.loads(out[-1])
    assert JSON_KEYS <= set(data)
    assert {s.key for s in ANSWER_METRICS} <= set(data) and data["followup_accuracy"] is None
    assert data["n"] == 6 and data["top1"] == pytest.approx(5 / 6, abs=1e-4)
    assert data["by_kind"]["number"]["n"] == 3
    assert [f["q"] for f in data["failures"]] == ["第三条讲的啥", "措施8讲的什么"]


def test_eval_command_table_and_report(
    tiny: Path, index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out" / "report.html"
    code = main(
        ["eval", "--faq", str(tiny), "--faq", str(tiny), "--index", str(index_dir), "--embedder", "chars",
         "--report", str(report), "--quiet"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "top-1" in out and "答错条目" in out and "第三条讲的啥" in out
    html = report.read_text("utf-8")
    assert "评测报告" in html and "第三条讲的啥" in html
    # Self-contained: no external stylesheet, script, font or image.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "@import" not in html


def test_eval_command_reports_a_bad_line(tmp_path: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_faq(tmp_path / "bad.jsonl", [row("第一条", ["m1"], "number"), row("第二条", ["m2"], "numbr")])
    code = main(["eval", "--faq", str(bad), "--index", str(index_dir), "--embedder", "chars", "--quiet"])
    assert code == 1
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_report_escapes_questions(bot: Assistant) -> None:
    # A failure (第7条 answers m7), so that the question is shown in the report.
    evil = FaqItem('<script>alert("x")</script>第7条', ("m1",), (), "number", "x.jsonl", 1)
    report = evaluate(bot, [evil])
    assert report.failures
    html = render_report([report])
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_ablation_runs_each_configuration(tiny: Path, index_dir: Path) -> None:
    items = load_faq(tiny)
    rows = ablation([items], index_dir=index_dir, embedder="chars")
    assert [r.config.mode for r in rows] == ["lexical", "dense", "full"]
    assert all(len(r.reports) == 1 and r.reports[0].n == 6 for r in rows)
    # Rule evidence stays on in every configuration: measure numbers are always found.
    assert all(r.reports[0].top1 >= 0.5 for r in rows)
    html = render_report([rows[2].reports[0]], rows)
    assert "消融对比" in html and "仅关键词" in html


# -- the quality gate ------------------------------------------------------------------------------


@pytest.mark.model
def test_faq_top1_floor_with_default_embedder(e5_assistant: Assistant) -> None:
    # The repo's index/ with the default embedder, as `policy-assistant eval` measures it (on a fresh
    # clone built from corpus/ by the first test that loads it).
    bot = e5_assistant
    assert bot.manifest.embedder == get_embedder("e5").id
    items = load_faq(REPO / "eval" / "faq.jsonl", [c.id for c in bot.chunks])
    bot.retriever.warm([it.q for it in items])  # one encoder call per 64 questions; the answers are the same
    report = evaluate(bot, items)
    summary = "\n".join(
        f"{r.item.where} {r.problem}: {r.item.q} → {','.join(r.got) or r.kind} (want {'/'.join(r.item.expect) or '-'})"
        for r in report.failures
    )
    top1 = report.top1
    assert top1 >= FLOOR, f"top-1 {top1:.3f} < floor {FLOOR}\n{summary}"
    assert report.complete == 1.0, summary
