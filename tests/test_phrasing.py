"""The wording model of the decision (assistant/phrasing.py, fitted by eval/fit_phrasing.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.decision import load_decision
from assistant.phrasing import grams, load_phrasing, vector

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "eval"))

from fit_phrasing import fit_phrasing, write_phrasing  # noqa: E402

# A toy training set: how people ask about jobs vs about other services (test data, not the policy's).
IN = ["下岗了找不着活怎么办", "找工作有补贴吗", "失业了能领什么", "招工有补贴吗", "找活干去哪", "想找个工作"]
OUT = ["孩子上幼儿园有补助吗", "幼儿园怎么报名", "买车有补贴吗", "买车摇号怎么弄", "医保怎么报销", "报销医药费找谁"]


def test_grams_and_vector_are_unit_length_over_known_ngrams() -> None:
    assert grams("幼儿园") == {"幼": 1, "儿": 1, "园": 1, "幼儿": 1, "儿园": 1, "幼儿园": 1}
    v = vector("幼儿园补助", {"幼儿": 2.0, "补助": 1.0, "无关": 3.0})
    assert set(v) == {"幼儿", "补助"} and np.isclose(sum(x * x for x in v.values()), 1.0)
    assert vector("完全陌生", {"幼儿": 2.0}) == {}  # nothing known: no evidence, not an error


def test_fitted_wording_pulls_each_way_and_survives_the_file(tmp_path: Path) -> None:
    y = np.array([1] * len(IN) + [0] * len(OUT))
    model = fit_phrasing(IN + OUT, y)
    # Unseen questions worded like each side score on that side.
    assert model.score("下岗了想找工作") > 0 > model.score("孩子幼儿园补助")
    path = tmp_path / "phrasing.json"
    write_phrasing(model, path, {"toy": len(y)})
    loaded = load_phrasing(path)
    assert loaded is not None
    for q in ("下岗了想找工作", "孩子幼儿园补助", "天气"):
        assert loaded.score(q) == pytest.approx(model.score(q), abs=1e-3)
    # The reviewer's view: strongest pulls first.
    weights = [abs(g["weight"]) for g in json.loads(path.read_text(encoding="utf-8"))["ngrams"]]
    assert weights == sorted(weights, reverse=True)


def test_shipped_decision_reads_its_wording_model() -> None:
    data = json.loads((REPO / "corpus" / "decision.json").read_text(encoding="utf-8"))
    model = load_decision(REPO / "corpus" / "decision.json")
    assert model is not None and "phrasing" in model.names
    assert model.phrasing is not None and data["phrasing"]
    # The wording counts for answering, as fitted: a negative weight would mean the model learned the
    # opposite of its labels.
    coef = dict(zip(model.names, model.coef, strict=True))
    assert coef["phrasing"] > 0
