"""The benchmark's own arithmetic and a tiny run of each part: the figures it prints must mean
what their labels say (percentiles in ms, open-loop latency from the scheduled time)."""

from __future__ import annotations

import pytest

from assistant import Assistant
from assistant.cli import main
from assistant.bench import end_to_end, faq_questions, parallel_embedding, stage_timings, stat
from web.app import create_app
from web.bench import repeating_mix, run_step
from web.localserver import running
from web.settings import WebSettings


def test_stat_is_in_milliseconds_with_nearest_rank_p95() -> None:
    s = stat([i / 1000 for i in range(1, 101)])  # 1 … 100 ms
    assert s.n == 100 and s.p50_ms == 50.5 and s.p95_ms == 95.0
    assert stat([]).n == 0


def test_faq_questions_are_distinct_first_questions() -> None:
    qs = faq_questions(limit=50)
    assert len(qs) == 50 == len(set(qs))


def test_repeating_mix_repeats_the_hot_set_about_as_often_as_asked() -> None:
    fresh = [f"问题{i}" for i in range(500)]
    mix = repeating_mix(fresh, share=0.7, hot=20, n=5000)
    hot = sum(q in set(fresh[:20]) for q in mix) / len(mix)
    assert 0.65 < hot < 0.75


def test_stage_and_end_to_end_timings_cover_every_stage(chars_assistant: Assistant) -> None:
    qs = faq_questions(limit=10)
    stages = stage_timings(chars_assistant, qs)
    assert {"normalise", "lexical", "embed", "faiss", "fusion", "plan", "compose", "render"} <= set(stages)
    assert all(s.n == 10 for s in stages.values())
    e2e = end_to_end(chars_assistant, qs)
    assert e2e["answer_repeated"].p50_ms < e2e["answer_fresh"].p50_ms


def test_the_bench_measures_embedding_with_one_encoder_thread_and_with_one_per_core(
    chars_assistant: Assistant,
) -> None:
    figures = parallel_embedding(chars_assistant, faq_questions(limit=8))
    assert set(figures) == {"one_thread_s", "per_core_s", "speedup"}
    assert all(v >= 0 for v in figures.values())


def test_open_loop_step_against_a_live_server(chars_assistant: Assistant) -> None:
    app = create_app(chars_assistant, WebSettings(rate_limit=None, question_log=False))
    with running(app) as url:
        step = run_step(url, ["第3条", "你好"], rate=20, seconds=1.0, target_p99_ms=2000)
    assert step.sent == 20 and step.ok == 20 and step.errors == 0 and step.passed
    assert 0 < step.p50_ms <= step.p99_ms < 2000
    assert 0 <= step.generator_cpu_share <= 1


@pytest.mark.parametrize("value", ["0", "a,b", "", "2,,x", "100"])
def test_bench_refuses_a_worker_count_it_cannot_run_with_a_chinese_message(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--workers", value])
    assert exit_info.value.code == 2
    assert "工作进程数应为" in capsys.readouterr().err
