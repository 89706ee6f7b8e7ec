"""The conversation prior (issue 19): a follow-up that its own words cannot carry is answered about the measure
just discussed; a turn to another benefit is declined all the same. The prior is fitted (eval/fit_context.py) and
shipped in corpus/decision.json; these tests hold what it does, not its value."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.embed import get_embedder

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def e5(e5_assistant: Assistant) -> Assistant:
    assert e5_assistant.manifest.embedder == get_embedder("e5").id  # the embedder decision.json was fitted with
    return e5_assistant


def _measure_saying(bot: Assistant, *phrases: str) -> str:
    """The id of the one measure whose text says all of `phrases` (parsed, not typed in)."""
    ids = [c.id for c in bot.corpus.chunks if c.kind == "measure" and all(p in c.text for p in phrases)]
    assert len(ids) == 1, ids
    return ids[0]


@pytest.mark.model
def test_a_short_follow_up_is_answered_about_the_measure_just_discussed(e5: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    posts = _measure_saying(e5, "就享家")  # the community job stations of 社区微业
    question = "一年能建几个"
    model = e5.retriever.model
    assert model is not None and model.context_prior > 0
    monkeypatch.setattr(e5, "_answers", {})  # answers under a changed model stay out of the shared cache
    with_prior = e5.ask(question, context=[posts])
    assert with_prior.matched and with_prior.measures[0].id == posts
    # The same words with no prior are not about it: the conversation, not the words, carries them.
    monkeypatch.setattr(e5.retriever, "model", replace(model, context_prior=0.0))
    monkeypatch.setattr(e5, "_answers", {})
    alone = e5.ask(question, context=[posts])
    assert not alone.matched or alone.measures[0].id != posts


@pytest.mark.model
@pytest.mark.parametrize("question", ["那生二胎有补贴吗", "那买新能源车呢，有补贴吗", "那种地的化肥钱政府补不补"])
def test_a_turn_to_another_benefit_is_declined_after_an_answer(e5: Assistant, question: str) -> None:
    loan = _measure_saying(e5, "创业担保贷款", "贴息")
    ans = e5.ask(question, context=[loan])
    assert not ans.matched and ans.measures == ()
    assert "0532-58659939" in ans.answer


def test_the_shipped_prior_answered_no_out_of_scope_turn_it_was_fitted_on() -> None:
    data = json.loads((REPO / "corpus" / "decision.json").read_text(encoding="utf-8"))
    prior = data["context_prior"]
    assert prior["cases"]["out_of_scope"] > 0 and prior["cases"]["out_of_scope_answered"] == 0
    assert prior["log_odds"] >= 0


@pytest.mark.model
def test_a_follow_up_stays_on_the_measure_just_discussed_though_alone_it_reads_as_another(e5: Assistant) -> None:
    """「一年能建几个」 alone reads like another measure (the youth-housing one builds 8 社区); after the 就享家 measure it
    asks about that one. 「那退役军人呢」 after the gig-work measure still turns to the veterans' measure: the prior weighs the
    measure just discussed, it does not pin the conversation to it."""
    jobs = _measure_saying(e5, "就享家")
    gig = _measure_saying(e5, "新业态平台", "意外伤害保险")
    veterans = _measure_saying(e5, "退役军人就业创业实训基地")
    alone = e5.ask("一年能建几个")
    followed = e5.ask("一年能建几个", context=[jobs])
    assert followed.matched and followed.measures[0].id == jobs
    assert not alone.matched or alone.measures[0].id != jobs  # what the conversation changed
    turned = e5.ask("那退役军人呢", context=[gig])
    assert turned.matched and turned.measures[0].id == veterans


@pytest.mark.model
def test_an_employer_hiring_after_the_graduates_measure_gets_the_measure_paying_for_the_hire(e5: Assistant) -> None:
    """After the graduates' own measure, 「那俺要是开店招个刚毕业的，单位这头有补贴不」 asks what the employer gets for hiring
    one: the measure paying employers for that hire, not the one just discussed — however strong the prior."""
    graduates = e5.groups.get("高校毕业生")
    assert graduates is not None and graduates.employer_side
    own = next(c for c in graduates.measures if c not in graduates.employer_side)
    ans = e5.ask("那俺要是开店招个刚毕业的，单位这头有补贴不？", context=[own])
    assert ans.matched and ans.measures[0].id in graduates.employer_side and not ans.context_used
    # The same conversation asking for the graduate stays on the graduate's measure.
    stay = e5.ask("那一年能补多少？", context=[own])
    assert stay.matched and stay.measures[0].id == own
