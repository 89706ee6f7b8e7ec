"""The topic model of the ranking (assistant/topics.py, fitted by eval/fit_topics.py): which measure questions worded
like this one were about."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.corpus import Chunk
from assistant.phrasing import grams
from assistant.topics import load_topics, write_topics
from web.views import reasons

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "eval"))

from fit_topics import fit_topics

# A toy training set in citizens' words (test data, not the policy's): three topics none of whose words is shared.
TRAIN = {
    "m1": ["外卖小哥有保险吗", "跑外卖的摔了有保险不", "送快递的意外险谁给", "骑手保险补多少"],
    "m2": ["老师傅手艺好有奖励吗", "高级技师给钱不", "技术能手评上了奖多少", "老技工区里奖不奖"],
    "m3": ["补贴的钱有人管着吗", "资金会不会乱花", "补助款拖着不发咋办", "钱能不能足额到位"],
}


def _chunks(titles: dict[str, str]) -> list[Chunk]:
    return [Chunk(id=i, doc="p", kind="measure", number=n, title=t, section="", text=t, lead_units=(), line=n) for n, (i, t) in enumerate(titles.items(), 1)]


TITLES = {"m1": "灵活就业", "m2": "高技能人才", "m3": "资金保障"}
LABELS = {c.id: c.label for c in _chunks(TITLES)}  # 「第2条 高技能人才」


def _fitted():
    texts = [q for qs in TRAIN.values() for q in qs]
    labels = [c for c, qs in TRAIN.items() for _ in qs]
    return fit_topics(texts, labels)


def test_unseen_wordings_lean_to_the_measure_they_were_labelled_with_and_survive_the_file(tmp_path: Path) -> None:
    model = _fitted()
    pos = {"m1": 0, "m2": 1, "m3": 2}
    for q, expected in (("我家孩子跑外卖，有没有保险", 0), ("厂里的老师傅能评奖吗", 1), ("这笔钱有没有人管", 2)):
        p = model.per_chunk(q, pos, 3)
        assert int(np.argmax(p)) == expected, (q, p)
        assert p.sum() == pytest.approx(1.0, abs=1e-5)
    path = tmp_path / "topics.json"
    write_topics(path, model, LABELS, {"about": "toy"})
    loaded = load_topics(path, _chunks(TITLES))
    assert loaded is not None and loaded.classes == model.classes
    for q in ("我家孩子跑外卖，有没有保险", "天气怎么样"):
        assert loaded.probabilities(q) == pytest.approx(model.probabilities(q), abs=2e-3)
    # The reviewer's table: one n-gram per line, strongest pulls first.
    rows = json.loads(path.read_text(encoding="utf-8"))["ngrams"]
    pulls = [max((abs(w) for w in r["weights"].values()), default=0.0) for r in rows]
    assert pulls == sorted(pulls, reverse=True)


def test_a_measure_renumbered_or_replaced_is_not_pointed_at(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    write_topics(path, _fitted(), LABELS, {})
    # The policy was revised: 第2条 is now about something else. Its class goes; the others stay.
    kept = load_topics(path, _chunks(dict(TITLES, m2="公共就业服务")))
    assert kept is not None and set(kept.classes) == {"m1", "m3"}
    p = kept.per_chunk("厂里的老师傅能评奖吗", {"m1": 0, "m2": 1, "m3": 2}, 3)
    assert p[1] == 0.0
    # A different policy altogether: no model rather than a wrong one.
    assert load_topics(path, _chunks({"m1": "别的", "m9": "其他"})) is None


def test_a_voice_transcript_spacing_words_apart_reads_as_the_sentence() -> None:
    assert grams("俺 想 考个 技能 等级") == grams("俺想考个技能等级")
    # Spaces elsewhere still count: a keyword search with a number or Latin letters is worded differently.
    assert " " in "".join(grams("补贴 2024"))


def test_the_shipped_ranking_reads_the_wording_and_says_so(e5_assistant: Assistant) -> None:
    r = e5_assistant.retriever
    assert r.topics is not None and r.weights.wording > 0
    skilled = next(c.id for c in r.chunks if c.kind == "measure" and "自主评价" in c.text)
    # Asked in words none of the labelled files uses (checked when this test was written).
    q = "车间想自己给干了多年的工人定个技术等级，不用去外头考，区里支持不"
    ev = r.evidence(q)
    assert ev.wording is not None and float(ev.wording.sum()) == pytest.approx(1.0, abs=1e-4)
    ranked = r.decide(ev, 3)
    assert ranked.kind == "answer" and ranked.matched[0].chunk.id == skilled
    top = ranked.matched[0]
    tagged = [w for w in top.why if w.startswith("问法:")]
    assert tagged and any(x.kind == "asked" and x.text == "常见问法" for x in reasons(top.why))
    # Without the wording the same evidence ranks another measure first: the model is what moved it.
    flat = r.decide(replace(ev, wording=None), 3)
    assert flat.hits[0].chunk.id != skilled


def test_held_out_and_sealed_questions_are_never_fitted_on() -> None:
    for name in ("faq_holdout.jsonl", "faq_sealed.jsonl"):
        done = subprocess.run(
            [sys.executable, "eval/fit_topics.py", "--faq", f"eval/{name}", "--out", "/dev/null"],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode != 0 and "never fitted on" in done.stderr
