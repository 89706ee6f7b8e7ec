"""Related rules added to the corpus do not move the primary document's evidence or its answers; a related chunk joins
after the primary's hits, and leads only when its field states what was asked and the measure does not."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
DAY = dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("tiers")
    shutil.copytree(REPO / "corpus", root / "corpus")
    for p in [*(FIXTURES / "structures").glob("*.txt"), *(FIXTURES / "library").glob("*.*")]:
        if p.is_file():
            shutil.copy(p, root / "corpus" / p.name)
    return Assistant.load(root / "corpus", root / "index", "chars")


def _faq(n: int) -> list[str]:
    lines = (REPO / "eval" / "faq.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(ln)["q"] for ln in lines if ln.strip()][:n]


def test_the_primary_evidence_is_the_same_with_related_rules_added(chars_assistant: Assistant, library: Assistant) -> None:
    alone, lib = chars_assistant.retriever, library.retriever
    primary = [i for i, c in enumerate(lib.chunks) if c.doc == library.corpus.primary]
    assert len(primary) == len(alone.chunks) < len(lib.chunks)
    for q in _faq(60):
        a, b = alone.evidence(q, DAY), lib.evidence(q, DAY)
        for field in ("lexical", "coverage", "phrase", "dense"):
            assert np.allclose(getattr(a, field), getattr(b, field)[primary], atol=1e-6), (q, field)
        assert (a.neighbour_coverage, a.neighbour_rest) == (b.neighbour_coverage, b.neighbour_rest)


def test_the_primary_answers_first_and_declines_stay_declined(chars_assistant: Assistant, library: Assistant) -> None:
    for q in [*_faq(80), "火锅怎么做", "从外地换工作回青岛，社保关系怎么转过来", "医保怎么报销"]:
        a, b = chars_assistant.retrieve(q), library.retrieve(q)
        assert b.kind == a.kind or (a.kind == "no_match" and b.kind == "answer" and a.neighbour is None), q
        if a.kind == "answer":
            ids = [h.chunk.id for h in b.matched]
            primary_ids = [i for i in ids if ":" not in i]
            assert primary_ids == [h.chunk.id for h in a.matched], q
            leader = b.matched[0].chunk
            if leader.doc != library.corpus.primary:  # led by a related rule: it states what the measure does not
                assert library.retriever._leads.leads(leader, a.matched[0].chunk, q), q


def test_a_guide_field_leads_when_it_states_what_the_measure_does_not(library: Assistant) -> None:
    a = library.ask("一次性创业补贴需要准备什么材料？", today=DAY)
    assert a.measures[0].id.endswith(":f5") or a.measures[0].label == "申请材料"
    # A question the primary's measure answers itself keeps the measure first, the related rule after it.
    b = library.ask("想自己开个小店，能贷款吗，有没有贴息", today=DAY)
    assert b.measures[0].id == "m13"


def test_the_day_asked_decides_which_related_rules_have_lapsed(library: Assistant) -> None:
    r = library.retriever
    notice = [i for i, c in enumerate(r.chunks) if c.doc == "chunfeng-tongzhi"]
    before, after = r._document_prior(dt.date(2025, 3, 1)), r._document_prior(dt.date(2025, 6, 1))
    assert before[notice].min() == 1.0 and after[notice].max() < 1.0


@pytest.mark.parametrize("question", ["大学生首次购房有补贴吗", "低保户的孩子上学有补助吗", "农民种大棚有补贴吗"])
def test_a_related_rule_does_not_answer_a_benefit_it_does_not_cover(library: Assistant, question: str) -> None:
    """The related rules are decided by the hand thresholds, which see shared words (大学生, 补贴, 低保) only:
    an answer from them needs the question's subject (购房, 上学, 大棚) in the chunk or its document's title."""
    r = library.retrieve(question)
    assert not any(":" in h.chunk.id for h in r.matched), [h.chunk.id for h in r.matched]


def test_a_lapsed_notice_that_states_what_was_asked_leads_with_its_note(library: Assistant) -> None:
    """A current document is preferred over a lapsed one — unless only the lapsed one states what was asked: the
    campaign's hours are in the expired notice, not in the measure on recruitment fairs in general."""
    a = library.ask("春风行动招聘会几点开始", today=DAY)
    lead = a.measures[0]
    assert lead.doc in {"chunfeng-tongzhi", "notice-spring-fair"}, [m.id for m in a.measures]
    assert any(n.startswith("已过期") for n in lead.notes)
    assert "m18" in [m.id for m in a.measures]  # the measure is still shown, after it
    # The measure states how often its own fairs are held: it leads, the lapsed notices do not.
    assert library.ask("每个月至少举办几次综合性招聘活动", today=DAY).measures[0].id == "m18"


def test_a_rule_about_more_of_the_subject_leads_a_measure_stating_it_of_something_else(library: Assistant) -> None:
    """Both state an amount; the measure's 100元 is the 意外伤害保险's, the Q&A pair's 三分之二 the 社保补贴's asked for."""
    a = library.ask("灵活就业社保补贴按什么标准补？", today=DAY)
    assert a.measures[0].id == "lingong-wenda:q2" and "三分之二" in a.answer.split("\n")[0], a.answer
    assert "m3" in [m.id for m in a.measures]
    # Asked about the 意外伤害保险补贴 itself, the measure states it and leads.
    assert library.ask("外卖骑手的意外伤害保险补贴一年多少钱", today=DAY).measures[0].id == "m3"


def test_the_field_asked_for_is_not_the_subject(library: Assistant) -> None:
    """「咨询电话」 says what is asked, not what it is about: the primary's cover notice has a 咨询电话 but is not about
    一次性创业补贴; a guide's 咨询电话 field is."""
    a = library.ask("一次性创业补贴的咨询电话是多少", today=DAY)
    lead = a.measures[0]
    assert lead.doc != library.corpus.primary and lead.label == "咨询电话", [m.id for m in a.measures]
    assert lead.phone in a.answer


def test_a_fact_asked_without_a_field_is_stated_by_a_sentence(library: Assistant) -> None:
    """「每场提供多少个岗位」 asks a count, which no guide heading names: the notice item that states 300个 leads."""
    a = library.ask("春风行动招聘会每场提供多少个岗位", today=DAY)
    assert a.measures[0].id == "notice-spring-fair:s4-1" and "300个" in a.answer, [m.id for m in a.measures]


def test_a_related_rule_about_as_much_of_the_subject_must_name_what_the_measure_names(library: Assistant) -> None:
    """The employer's 社保补贴 of m7, not the 灵活就业人员's of a Q&A page that never says 单位, though both name 社保补贴."""
    a = library.ask("单位招就业困难人员，社保补贴补多少，个人交的那份补不补", today=DAY)
    assert a.measures[0].id == "m7", [m.id for m in a.measures]


def test_a_measure_is_not_the_answer_about_what_its_document_never_names(library: Assistant) -> None:
    """「春风行动」 is named by no measure: asked about the campaign's training sign-up, the campaign's notice leads
    (flagged 已过期), the training measure follows."""
    a = library.ask("春风行动招聘会现场能报名技能培训吗", today=DAY)
    assert a.measures[0].id == "notice-spring-fair:s4-3", [m.id for m in a.measures]
    assert any(n.startswith("已过期") for n in a.measures[0].notes)
    # A measure cited by number, or a department named, stays a direct reference to the primary.
    assert library.ask("第十二条讲的是什么", today=DAY).measures[0].id == "m12"
    assert library.ask("城阳区税务局负责什么", today=DAY).measures[0].id in {"m7", "m8"}


@pytest.mark.parametrize(
    ("question", "label"),
    [("一次性创业补贴的设定依据是什么", "设定依据"), ("城乡公益性岗位管理办法有效期多长", "第十条")],
)
def test_a_guide_basis_and_a_rule_validity_are_fields(library: Assistant, question: str, label: str) -> None:
    assert library.ask(question, today=DAY).measures[0].label == label


def test_an_employer_hiring_a_group_favours_only_the_measure_paying_for_it(library: Assistant) -> None:
    """The hiring evidence names chunks by position: a related rule's chunk at the same place in its tier must not get
    the employer's measure's boost."""
    paid = {c for g in library.groups.groups for c in g.employer_side}
    r = library.retriever.retrieve("饭馆雇了个下岗多年的大姐，能申请啥补贴", today=DAY)
    tagged = [h.chunk.id for h in r.hits if any(w.startswith("招用") for w in h.why)]
    assert tagged and set(tagged) <= paid, tagged
