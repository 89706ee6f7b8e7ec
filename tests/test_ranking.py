"""Ranking evidence fitted by eval/tune.py: a glossary expansion weighs as one concept, and a question that hires a
group favours the measure that pays employers for hiring it. The measures are found from the policy text and the
groups table, not named here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assistant import Assistant


def _measure_saying(bot: Assistant, phrase: str) -> str:
    found = [c.id for c in bot.retriever.chunks if c.kind == "measure" and phrase in c.text]
    assert len(found) == 1, f"expected one measure saying {phrase}: {found}"
    return found[0]


def _employer_side(bot: Assistant, group: str) -> tuple[str, ...]:
    g = bot.groups.get(group)
    assert g is not None and g.employer_side, f"the groups table no longer has employers paid for hiring {group}"
    return g.employer_side


def test_hiring_words_are_reviewable_data(chars_assistant: Assistant) -> None:
    path = chars_assistant.corpus.root / "lexicon" / "hiring.txt"
    words = [w for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#") for w in ln.split()]
    assert "雇" in words and "招用" in words


@pytest.mark.parametrize(
    ("question", "hires"),
    [
        ("饭馆雇了个下岗多年的大姐，能申请啥", True),
        ("我们单位招用就业困难人员，社保怎么补", True),
        ("小公司招收毕业生有补贴吗", True),
        # The group is the person asking, or the hiring is in another clause: not the employer's voice.
        ("我下岗好几年了，有啥帮扶", False),
        ("我刚毕业，招聘会在哪里开", False),
        ("招聘会上有没有给残疾人的岗位", False),
    ],
)
def test_hiring_voice_is_read_from_the_question(chars_assistant: Assistant, question: str, hires: bool) -> None:
    bot = chars_assistant
    paid = {bot.retriever._pos[c] for g in bot.groups.groups for c in g.employer_side}
    hired = set(bot.retriever.evidence(question).hired)
    assert bool(hired) is hires
    assert hired <= paid


def test_an_employer_hiring_a_group_is_answered_with_the_employers_measure(e5_assistant: Assistant) -> None:
    paid = _employer_side(e5_assistant, "就业困难人员")
    for q in ("开了个小面馆，雇了一个下岗好些年的大哥，店里能拿到啥补贴", "公司去年招用了两个就业困难人员，社保费政府补多少"):
        r = e5_assistant.retrieve(q)
        assert r.kind == "answer"
        assert r.matched[0].chunk.id in paid, (q, [h.chunk.id for h in r.matched])
        assert any(w.startswith("招用") for w in r.matched[0].why)
        # Asked in the chat, it is not turned into the group's own list with the employer's measure last.
        assert e5_assistant.ask(q).measures[0].id in paid
    # The same group in its own voice is not sent to the employer's measure first.
    r = e5_assistant.retrieve("我下岗好些年了，一直找不着活干，政府有啥帮扶")
    assert r.kind == "answer" and r.matched[0].chunk.id not in paid


def test_a_glossary_word_does_not_outvote_the_literal_term(chars_assistant: Assistant) -> None:
    """「村里」 expands to four policy terms of one measure; 「以工代赈」 is another measure's own word."""
    bot = chars_assistant
    literal = bot.retriever._pos[_measure_saying(bot, "以工代赈")]
    expanded = bot.retriever._pos[_measure_saying(bot, "农村劳动力工资")]
    q = "村里修路能不能用以工代赈让村民干活"
    base = bot.retriever.weights

    def evidence_at(exponent: float):
        bot.retriever.weights = dataclasses.replace(base, glossary_exponent=exponent)
        try:
            return bot.retriever.evidence(q)
        finally:
            bot.retriever.weights = base

    # Weighed as about one concept (the exponent eval/tune.py searches; the shipped setting is whatever it chose).
    ev = evidence_at(0.5)
    assert ev.lexical[literal] == 1.0 and ev.lexical[expanded] < ev.lexical[literal]
    # Counting every added token fully (exponent 0) is what lets the expansion gain.
    flat = evidence_at(0.0)
    assert flat.lexical[expanded] > ev.lexical[expanded]
    assert float(np.max(flat.lexical)) == 1.0


@pytest.mark.parametrize("question", ["以工代赈的活，俺们村里的人能去干吗", "俺们村里的人能去干以工代赈的活不"])
def test_village_public_works_question_names_the_work_relief_measure(e5_assistant: Assistant, question: str) -> None:
    """Before the expansion was weighed as one concept, 「村里」 put the rural-labour measure first for both."""
    r = e5_assistant.retrieve(question)
    assert r.kind == "answer"
    assert r.matched[0].chunk.id == _measure_saying(e5_assistant, "以工代赈")
