"""Load test: `policy-assistant serve --workers 2` on loopback, 50 concurrent clients for 60 s.

    python scripts/loadtest.py [--clients 50] [--duration 60] [--workers 2] [--json]

Starts the server (rate limiting off, a fresh temporary data directory, its log captured to a
file), waits for /healthz, warms every worker up, then lets N clients POST questions to
/api/ask as fast as answers come back: in-scope questions, out-of-scope ones, greetings, some
with (generated, checksum-valid) resident ID numbers, mobiles and bank cards, and a few invalid
ones. Reports requests/s, latency percentiles, 5xx (must be 0) and 429 separately, then stops the
server and checks its traces: every answered question logged exactly once, and no raw personal
data in the data directory or the server log (scripts/scan_pii.py).

Loopback only; the clients share the machine's CPUs with the server, so the figures are a floor.
Exit status 0 when there were no 5xx, no transport errors, no lost log rows and no raw personal data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
import scan_pii
from web import serveproc

IN_SCOPE = [
    "送外卖的骑手有没有保险补贴?",
    "灵活就业人员社保补贴怎么申请",
    "退役军人创业有什么扶持政策",
    "高校毕业生到小微企业就业有补贴吗",
    "企业吸纳脱贫人口就业能享受什么税收优惠",
    "失业了可以领什么补贴",
    "创业担保贷款最多能贷多少",
    "招用就业困难人员有岗位补贴吗",
    "妇女居家灵活就业有什么支持",
    "零工市场在哪里,怎么找零活",
    "技能培训有补贴吗",
    "第7条说的是什么",
]
OUT_OF_SCOPE = ["怎么办理护照", "明天城阳天气怎么样", "公积金怎么提取", "孩子上学怎么报名", "医保报销比例是多少"]
GREETINGS = ["你好", "在吗", "谢谢"]
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def fake_id(rng: random.Random) -> str:
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 45))
    body = f"370214{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def fake_mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def fake_card(rng: random.Random) -> str:
    body = "622202" + "".join(str(rng.randrange(10)) for _ in range(12))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def question(rng: random.Random) -> tuple[str, str]:
    """(category, question)."""
    r = rng.random()
    if r < 0.50:
        return "in_scope", rng.choice(IN_SCOPE)
    if r < 0.70:
        return "out_of_scope", rng.choice(OUT_OF_SCOPE)
    if r < 0.75:
        return "greeting", rng.choice(GREETINGS)
    if r < 0.98:
        mobile = fake_mobile(rng)
        pii = rng.choice([
            f"我身份证号{fake_id(rng)},{rng.choice(IN_SCOPE)}",
            f"手机{mobile},{rng.choice(IN_SCOPE)}请回电",
            f"我的电话 {mobile[:3]}-{mobile[3:7]}-{mobile[7:]},失业补贴能领吗",
            f"补贴打到卡号{fake_card(rng)}吗?身份证 {fake_id(rng)}",
        ])  # fmt: skip
        return "personal_data", pii
    return "invalid", rng.choice(["", "   ", "补" * 501])


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # seconds, measured requests only
    statuses: Counter[int] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    answered: int = 0  # 200s, warm-up included (each must be one row in the question log)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


async def client(i: int, base: str, until: float, measure_from: float, results: Results, seed: int) -> None:
    rng = random.Random(seed * 1000 + i)
    # A random token like the chat page's (short or personal-looking ids are dropped by the server).
    headers = {"X-Session-Id": f"{rng.getrandbits(128):032x}", "X-Channel": "web" if i % 2 else "api"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http:
        while (now := time.monotonic()) < until:
            category, q = question(rng)
            started = time.perf_counter()
            try:
                resp = await http.post("/api/ask", json={"question": q})
            except httpx.HTTPError as exc:
                results.errors[type(exc).__name__] += 1
                continue
            elapsed = time.perf_counter() - started
            if resp.status_code == 200:
                results.answered += 1
            if now >= measure_from:
                results.latencies.append(elapsed)
                results.statuses[resp.status_code] += 1
                results.categories[category] += 1


async def drive(base: str, clients: int, duration: float, warmup: float, seed: int) -> tuple[Results, float]:
    results = Results()
    start = time.monotonic()
    measure_from = start + warmup
    until = measure_from + duration
    await asyncio.gather(*(client(i, base, until, measure_from, results, seed) for i in range(clients)))
    return results, time.monotonic() - measure_from


def logged_rows(data_dir: Path) -> int:
    db = data_dir / "questions.sqlite3"
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = int(conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0])
    conn.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="测量时长(秒)")
    parser.add_argument("--warmup", type=float, default=5.0, help="预热时长(秒,不计入统计)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--run-dir", type=Path, help="数据目录和服务器日志放在这里(默认新建临时目录)")
    parser.add_argument("--json", action="store_true", help="以 JSON 输出结果")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 500 or not 0 < args.duration <= 3600:
        parser.error("--clients 应在 1–500,--duration 应在 0–3600 秒")

    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="policy-loadtest-"))
    data_dir, log_path = run_dir / "data", run_dir / "server.log"
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"启动 policy-assistant serve --workers {args.workers}\n运行目录: {run_dir}", file=sys.stderr, flush=True)
    try:
        server = serveproc.start(run_dir, args.workers)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from exc
    try:
        print(
            f"{args.clients} 个客户端,预热 {args.warmup:g} 秒,测量 {args.duration:g} 秒…",
            file=sys.stderr,
            flush=True,
        )
        results, measured = asyncio.run(drive(server.url, args.clients, args.duration, args.warmup, args.seed))
    finally:
        serveproc.stop(server)

    lat = results.latencies
    total = sum(results.statuses.values())
    five_xx = sum(n for s, n in results.statuses.items() if s >= 500)
    rows = logged_rows(data_dir)
    pii = scan_pii.scan([run_dir])
    # Questions travel in POST bodies: none of them may show up in the server's (access) log.
    server_log = log_path.read_text(encoding="utf-8", errors="replace")
    leaked_questions = sum(server_log.count(q) for q in IN_SCOPE + OUT_OF_SCOPE)
    report = {
        "clients": args.clients,
        "workers": args.workers,
        "duration_s": round(measured, 1),
        "requests": total,
        "requests_per_s": round(total / measured, 1) if measured else 0.0,
        "latency_ms": {
            "p50": round(percentile(lat, 50) * 1000, 1),
            "p95": round(percentile(lat, 95) * 1000, 1),
            "p99": round(percentile(lat, 99) * 1000, 1),
            "max": round(max(lat) * 1000, 1) if lat else None,
        },
        "status": {str(k): v for k, v in sorted(results.statuses.items())},
        "5xx": five_xx,
        "429": results.statuses.get(429, 0),
        "transport_errors": dict(results.errors),
        "mix": dict(results.categories),
        "answered_incl_warmup": results.answered,
        "question_log_rows": rows,
        "pii_found": pii.total,
        "pii_files_scanned": pii.files,
        "questions_in_server_log": leaked_questions,
        "run_dir": str(run_dir),
    }
    ok = five_xx == 0 and not results.errors and rows == results.answered and pii.total == 0 and not leaked_questions
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        ms = report["latency_ms"]
        print(
            f"请求 {total} 次 / {measured:.1f} 秒 = {report['requests_per_s']} 次/秒({args.clients} 客户端,{args.workers} 个 worker)"
        )
        print(f"延迟 p50 {ms['p50']} ms · p95 {ms['p95']} ms · p99 {ms['p99']} ms · 最大 {ms['max']} ms")
        print(f"状态码 {report['status']} · 5xx {five_xx} · 429 {report['429']} · 连接错误 {dict(results.errors) or 0}")
        print(f"问题构成 {report['mix']}")
        print(
            f"问题日志 {rows} 行 / 成功答复 {results.answered} 次(含预热)· 未脱敏个人信息 {pii.total} 处({pii.files} 个文件)"
        )
        print(f"数据和日志: {run_dir}")
        print("通过" if ok else "未通过")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
