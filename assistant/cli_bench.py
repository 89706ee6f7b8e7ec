"""`policy-assistant bench`: where the time goes, in process and over HTTP in open loop."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .clock import district_today
from .bench import REPO, InProcess, faq_questions, run_in_process
from .service import Assistant

# Targets of issue 13, shown beside each figure.
TARGETS = {
    "ratio_answer_to_embed": ("≤", 1.15),
    "answer_repeated_p50_ms": ("≤", 1.0),
    "cold_start_s": ("≤", 3.0),
    "rss_mb": ("≤", 400.0),
    "fresh_rate": ("≥", 80.0),
    "repeat_rate": ("≥", 250.0),
}
FRESH_RATES = (40, 60, 80, 100, 120, 140, 160, 200)
REPEAT_RATES = (100, 150, 200, 250, 300, 400, 500, 600, 800)


def register(subparsers: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = subparsers.add_parser(
        "bench",
        help="性能基准:各阶段耗时、与裸向量化的比值、重复问题、冷启动、内存,以及开环 HTTP 压测",
        description="在本机测量答复各阶段的耗时,并以固定到达速率(开环)压测 HTTP 接口,找出 p99 ≤ 100 毫秒的最高速率。",
    )
    add_common(p)
    p.add_argument("--json", action="store_true", help="最后一行输出一个 JSON 对象")
    p.add_argument("--no-http", action="store_true", help="只测进程内,不启动服务做 HTTP 压测")
    p.add_argument("--seconds", type=float, default=6.0, help="每个速率档持续的秒数(默认 6)")
    p.add_argument(
        "--workers",
        type=_worker_counts,
        default=(2,),
        help="HTTP 压测时服务的工作进程数,可写多个比较,如 1,2(默认 2)",
    )
    p.add_argument("--rounds", type=int, default=3, help="进程内测量把问题集重复几遍(默认 3)")
    p.add_argument("--write", metavar="FILE", help="把结果写成 Markdown(如 docs/performance.md)")
    p.add_argument(
        "--documents",
        type=_worker_counts_or_sizes,
        metavar="N[,N…]",
        help="改测文件库的规模:用测试样例文件合成 N 个相关文件(如 1,10,100,1000),测建索引、增加一个文件、内存和答复 p50",
    )
    p.set_defaults(func=cmd_bench)


def _worker_counts_or_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        sizes = ()
    if not sizes or any(not 0 <= n <= 10_000 for n in sizes):
        raise argparse.ArgumentTypeError(f"文件数应为 0–10000 的整数,多个用逗号分隔,如 1,10,100;收到 {text!r}")
    return sizes


def _worker_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        counts = ()
    if not counts or any(not 1 <= n <= 64 for n in counts):
        raise argparse.ArgumentTypeError(f"工作进程数应为 1–64 的整数,多个用逗号分隔,如 1,2;收到 {text!r}")
    return counts


def _mark(key: str, value: float) -> str:
    op, bound = TARGETS[key]
    ok = value <= bound if op == "≤" else value >= bound
    return f"{'✓' if ok else '✗'} 目标 {op} {bound:g}"


def _tables(inp: InProcess, runs: list[dict[str, Any]]) -> str:
    lines = ["## 进程内(每个问题一次,缓存清空)", "", "| 阶段 | p50 ms | p95 ms |", "|---|---|---|"]
    for name, s in inp.stages.items():
        lines.append(f"| {name} | {s.p50_ms:.3f} | {s.p95_ms:.3f} |")
    e = inp.end_to_end
    lines += [
        "",
        "| 指标 | 数值 | 目标 |",
        "|---|---|---|",
        f"| 完整答复 p50 (新问题) | {e['answer_fresh'].p50_ms:.2f} ms | |",
        f"| 裸向量化 p50 (同一批问题) | {e['embed_bare'].p50_ms:.2f} ms | |",
        f"| 比值 答复/向量化 | {inp.ratio_answer_to_embed:.3f} | {_mark('ratio_answer_to_embed', inp.ratio_answer_to_embed)} |",
        f"| {inp.questions} 个新问题由 4 个线程同时向量化:1 个编码线程 / 每核 1 个({inp.cpus} 个) | "
        f"{inp.parallel_embed['one_thread_s']:.2f} s / {inp.parallel_embed['per_core_s']:.2f} s,"
        f"加速 {inp.parallel_embed['speedup']:.2f} 倍 | |",
        f"| 重复问题 p50 | {e['answer_repeated'].p50_ms:.3f} ms | "
        f"{_mark('answer_repeated_p50_ms', e['answer_repeated'].p50_ms)} |",
        f"| 冷启动到首个答复(索引已建) | {inp.cold_start_s:.2f} s | {_mark('cold_start_s', inp.cold_start_s)} |",
        f"| 首个答复后的内存峰值(单进程) | {inp.rss_mb_after_first_answer:.0f} MB | "
        f"{_mark('rss_mb', inp.rss_mb_after_first_answer)} |",
        f"| 建立索引 | {inp.index_build_s:.1f} s | |",
        f"| 问题数 × 轮数 | {inp.questions} × {e['answer_fresh'].n // max(1, inp.questions)} | |",
    ]
    for http in runs:
        lines += ["", f"## HTTP 开环({http['workers']} 个工作进程,本机回环,生成器与服务共用 {inp.cpus} 核)", ""]
        for sw, key in ((http["fresh"], "fresh_rate"), (http["repeat"], "repeat_rate")):
            lines += [
                f"**{sw['mix']}**:p99 ≤ {sw['target_p99_ms']:g} ms 的最高速率 **{sw['best_rate']:g} 次/秒** "
                f"({_mark(key, sw['best_rate'])})",
                "",
                "| 速率 次/秒 | 发送 | 成功 | 错误 | p50 ms | p95 ms | p99 ms | 生成器 CPU 占比 |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for st in sw["steps"]:
                lines.append(
                    f"| {st['rate']:g} | {st['sent']} | {st['ok']} | {st['errors']} | {st['p50_ms']} | "
                    f"{st['p95_ms']} | {st['p99_ms']} | {st['generator_cpu_share']:.0%} |"
                )
            lines.append("")
    return "\n".join(lines)


def _command_args(args: argparse.Namespace) -> str:
    """The options that shaped this run, so the figures can be reproduced."""
    if args.no_http:
        return "--no-http"
    return f"--workers {','.join(map(str, args.workers))} --seconds {args.seconds:g}"


def cmd_library_bench(args: argparse.Namespace) -> int:
    from .documents import bench as library

    questions = faq_questions([REPO / "eval" / "faq.jsonl"], limit=40)
    steps = library.run(args.documents, questions, args.embedder)
    print(library.table(steps))
    if args.json:
        print(json.dumps({"library": library.to_dicts(steps)}, ensure_ascii=False))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.documents:
        return cmd_library_bench(args)
    bot = Assistant.load(args.corpus, args.index, args.embedder, progress=False)
    paths = [REPO / "eval" / f for f in ("faq.jsonl", "faq_holdout.jsonl", "faq_search_style.jsonl")]
    questions = faq_questions([p for p in paths if p.exists()], limit=150)
    inp = run_in_process(bot, questions, rounds=args.rounds)
    runs: list[dict[str, Any]] = []
    if not args.no_http:
        from web.bench import repeating_mix, sweep

        every = faq_questions([p for p in paths if p.exists()], limit=100_000)
        for workers in args.workers:
            fresh = sweep(every, FRESH_RATES, "新问题(不重复)", seconds=args.seconds, workers=workers)
            repeat = sweep(repeating_mix(every), REPEAT_RATES, "70% 重复的问题", seconds=args.seconds, workers=workers)
            runs.append({"workers": workers, "fresh": fresh.to_dict(), "repeat": repeat.to_dict()})
    text = _tables(inp, runs)
    print(text)
    if args.write:
        header = (
            f"# 性能基准\n\n`policy-assistant bench {_command_args(args)}` 于 "
            f"{district_today():%Y-%m-%d} 在 {inp.cpus} 核机器上测得;同一次运行、同一批问题,比值可比,绝对值随机器负载变化。\n\n"
        )
        Path(args.write).write_text(header + text + "\n", encoding="utf-8")
        print(f"\n已写入 {args.write}")
    if args.json:
        print(json.dumps({"in_process": inp.to_dict(), "http": runs}, ensure_ascii=False))
    return 0


__all__ = ["register"]
