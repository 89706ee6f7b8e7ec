"""Subject coverage (issue 19): a question is answered only when a measure covers what it is about.

The catalogue test asks about every subject of a broad public-service catalogue that the policy does
not contain (tests/fixtures/service_catalogue.tsv — test data, read by no product code) in the ways
citizens ask about benefits, and expects them declined. It runs on the default embedder, the one the
decision (corpus/decision.json) was fitted with.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.embed import get_embedder

REPO = Path(__file__).resolve().parent.parent
CATALOGUE = REPO / "tests" / "fixtures" / "service_catalogue.tsv"
TEMPLATES = ("{subject}有补贴吗", "{subject}怎么申请", "{subject}能领多少")


def catalogue() -> list[tuple[str, str, str]]:
    lines = [ln for ln in CATALOGUE.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    return [(r["category"], r["subject"], r["template"]) for r in rows]


@pytest.fixture(scope="module")
def e5(e5_assistant: Assistant) -> Assistant:
    assert e5_assistant.manifest.embedder == get_embedder("e5").id  # the embedder decision.json was fitted with
    return e5_assistant


def test_generic_and_who_words_are_not_the_subject(chars_assistant: Assistant) -> None:
    subjects = chars_assistant.retriever.subjects
    words = subjects.coverage(chars_assistant.lexicon.expand("我是宝妈，孩子上幼儿园有补助吗")).words
    assert "幼儿园" in words
    assert not {"宝妈", "补助", "我"} & set(words)


def test_an_unlisted_subject_is_covered_by_no_measure(chars_assistant: Assistant) -> None:
    cov = chars_assistant.retriever.subjects.coverage(chars_assistant.lexicon.expand("买新能源车有补贴吗"))
    assert cov.terms and float(cov.share.max()) == 0.0


def test_a_policy_subject_is_covered_through_the_glossary(chars_assistant: Assistant) -> None:
    r = chars_assistant.retriever
    cov = r.subjects.coverage(chars_assistant.lexicon.expand("老板拖欠工资不给"))
    best = r.chunks[int(cov.share.argmax())]
    assert best.id == "m12" and float(cov.share.max()) == 1.0


@pytest.mark.model
@pytest.mark.parametrize(
    "question", ["孩子上幼儿园有补助吗", "生二胎有补贴吗", "在城阳租房子有补贴不", "买新能源车有补贴吗", "装修房子有补贴吗"]
)
def test_the_issue_questions_are_declined_with_the_phone(e5: Assistant, question: str) -> None:
    ans = e5.ask(question)
    assert not ans.matched and ans.measures == ()
    assert "0532-58659939" in ans.answer


@pytest.mark.model
def test_catalogue_subjects_are_declined(e5: Assistant) -> None:
    rows = catalogue()
    assert len(rows) >= 100
    questions = {t.format(subject=s) for _, s, own in rows for t in (*TEMPLATES, own)}
    e5.retriever.warm(sorted(questions))  # one encoder call per 64 questions; the answers are the same
    answered = sorted(q for q in questions if e5.ask(q).matched)
    share = 1 - len(answered) / len(questions)
    assert share >= 0.97, f"{share:.1%} declined; answered: {answered}"


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("单位拖欠工资不发，有人管吗", {"m12"}),
        ("技师等级认定有补贴吗", {"m15", "m16"}),
        ("我是陇南成县来的，在城阳打工有啥帮扶", {"m11"}),
    ],
)
def test_the_issue_in_scope_families_are_answered(e5: Assistant, question: str, first: set[str]) -> None:
    ans = e5.ask(question)
    assert ans.matched and ans.measures[0].id in first


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "group"),
    [
        # A letter's salutation and the writer's story are no topic of their own: without the group they lead
        # to no measure (the fitted decision says so), so the whole group is listed.
        ("尊敬的领导您好，本人已被认定为就业困难人员，请问区里对就业困难人员都有哪些扶持？", "就业困难人员"),
        ("您好，我是残疾人的家属，想咨询一下区里对残疾人都有哪些帮扶？", "残疾人"),
        ("领导您好，我今年刚毕业，请问咱们区对高校毕业生都有哪些政策？", "高校毕业生"),
    ],
)
def test_a_group_question_in_a_letter_lists_the_whole_group(e5: Assistant, question: str, group: str) -> None:
    g = e5.groups.get(group)
    assert g is not None
    plan = e5.plan(question)
    assert plan.groups == (group,) and sorted(s.hit.chunk.id for s in plan.shown) == sorted(g.measures)


@pytest.mark.model
def test_a_close_decline_names_the_nearest_measure_as_a_question(e5: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which questions land in the near-miss band moves with every refit; what a close decline says
    does not. The fitted band is put around this question's probability, as a refit could."""
    question = "刚毕业来城阳找工作，有没有便宜点的地方住"  # 第9条's 优徕青年社区, in colloquial words
    model = e5.retriever.model
    assert model is not None
    p = e5.retrieve(question).probability
    assert p is not None
    monkeypatch.setattr(e5.retriever, "model", replace(model, threshold=p + 0.01, near_band=0.05))
    # The assistant is shared by the test process: answers under the moved threshold stay out of its cache.
    monkeypatch.setattr(e5, "_answers", {})
    r = e5.retrieve(question)
    ans = e5.ask(question)
    assert not ans.matched and ans.measures == ()  # GUIDE §3: a decline lists no measure
    assert r.near_miss and r.hits[0].chunk.id == "m9"
    assert "您是不是想问:第9条" in ans.answer
    # A suggestion is a guess: the general hotline stays beside it.
    assert "12345" in ans.answer and "0532-58659939" in ans.answer
    monkeypatch.setattr(e5.retriever, "model", model)
    far = e5.ask("生二胎有补贴吗")
    assert "您是不是想问" not in far.answer and "12345" in far.answer


def test_the_shipped_decision_keeps_both_budgets_by_cross_validation() -> None:
    """A refit (eval/fit_decision.py) that trades in-scope recall for out-of-scope declines, or the
    reverse, beyond the issue's 3 % shows here; and the subject evidence must count *for* answering —
    a negative weight would answer more the less of the subject a measure covers."""
    import json

    data = json.loads((REPO / "corpus" / "decision.json").read_text(encoding="utf-8"))
    assert data["cv"]["out_of_scope_answered"] <= 0.03
    assert data["cv"]["in_scope_declined"] <= 0.03
    # Pooled over the training files each held out whole (questions in a voice the fit never saw).
    pooled = data["leave_one_file_out"]["pooled"]
    assert pooled["out_of_scope_answered"] <= 0.03 and pooled["in_scope_declined"] <= 0.035
    coef = {f["name"]: f["coef"] for f in data["features"]}
    assert coef["subject_hit"] > 0 and coef["subject_dense"] > 0
