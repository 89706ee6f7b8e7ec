"""The evaluation: FAQ loading, metric arithmetic, the eval command and the report.

Fast tests use the model-free "chars" embedder with a private index, and questions whose outcome
does not depend on ranking quality (measure numbers, greetings, gibberish), so that retrieval
tuning cannot break them. The arithmetic itself is checked on hand-made answers. One test, marked
`model`, runs the real FAQ set with the default e5 embedder: the CI quality gate.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.answer import Answer, MeasureAnswer
from assistant.cli import main
from assistant.evaluation import (
    FaqError,
    FaqItem,
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
FLOOR = 0.97

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
    matched: bool, ids: tuple[str, ...] = (), kind: str | None = None, text: str = PHONE, units=("区财政局",)
) -> Answer:
    measures = tuple(MeasureAnswer(i, None, "d", "t", "s", "q", tuple(units), (), 0.5) for i in ids)
    return Answer("q", matched, kind or ("answer" if matched else "no_match"), measures, PHONE, text)


def item(expect: tuple[str, ...], kind: str, must: tuple[str, ...] = ()) -> FaqItem:
    return FaqItem(q=f"q-{kind}-{expect}", expect=expect, must=must, kind=kind, source="x.jsonl", line=1)


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


def test_repo_faq_files_are_valid(bot: Assistant) -> None:
    ids = [c.id for c in bot.chunks]
    main_set = load_faq(REPO / "eval" / "faq.jsonl", ids)
    holdout = load_faq(REPO / "eval" / "faq_holdout.jsonl", ids)
    assert len(main_set) >= 200 and len(holdout) >= 50
    assert not {i.q for i in main_set} & {i.q for i in holdout}  # the held-out set shares no question


# -- the command and the report --------------------------------------------------------------------


def test_eval_command_json_last_line(tiny: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "--faq", str(tiny), "--index", str(index_dir), "--embedder", "chars", "--json", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    data = json.loads(out[-1])
    assert JSON_KEYS <= set(data)
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
def test_faq_top1_floor_with_default_embedder(tmp_path_factory: pytest.TempPathFactory) -> None:
    bot = Assistant.load(index_dir=tmp_path_factory.mktemp("index-e5"), embedder="e5")  # the default embedder
    report = evaluate(bot, load_faq(REPO / "eval" / "faq.jsonl", [c.id for c in bot.chunks]))
    summary = "\n".join(
        f"{r.item.where} {r.problem}: {r.item.q} → {','.join(r.got) or r.kind} (want {'/'.join(r.item.expect) or '-'})"
        for r in report.failures
    )
    top1 = report.top1
    assert top1 >= FLOOR, f"top-1 {top1:.3f} < floor {FLOOR}\n{summary}"
    assert report.complete == 1.0, summary
