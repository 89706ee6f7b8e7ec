"""Idle-connection attack on a served instance, loopback only: do idle sockets take it down?

    python scripts/attack_idle.py [--connections 10000] [--hold 20] [--workers 1] [--json]
    python scripts/attack_idle.py --url http://127.0.0.1:8000 --connections 10000   # a running server

Starts `policy-assistant serve` on a free loopback port (its log captured to a file; or targets
--url, which must be a loopback address), then opens N TCP connections that never send a byte
and holds them for --hold seconds. Meanwhile a normal client asks GET /healthz and POST /api/ask
every half second, starting --settle seconds after the burst (a probe right after the burst is
reported separately: TCP resends a SYN that an overflowing accept queue dropped after 1 s). Reports
how many connections were opened, how many the server closed (idle
ones make room for new ones; a request head must arrive within the header timeout), the normal
client's worst latency, and how much the server log grew.

Passes (exit 0) when every connection was opened, every probe was answered 200 within --max-latency
(1 s) and the log grew by less than 1 MB. Bounded: at most 30,000 connections for at most 300 s; the
script raises its own open-file limit as far as the hard limit allows.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from web import serveproc  # noqa: E402 - the checkout's own package, as a script sees it
MAX_CONNECTIONS = 30_000
MAX_HOLD = 300.0


@dataclass
class Result:
    target: str
    connections_wanted: int
    connections_opened: int = 0
    connect_errors: dict[str, int] = field(default_factory=dict)
    closed_by_server: int = 0
    still_open_at_end: int = 0
    probes: int = 0
    probe_failures: int = 0
    probe_worst_ms: float = 0.0
    probe_p50_ms: float = 0.0
    probe_ms: list[float] = field(default_factory=list)  # every probe, in order
    opening_s: float = 0.0
    burst_probe_ms: float | None = None  # a probe sent right after the burst (not part of the verdict)
    log_growth_bytes: int | None = None
    server_fds_max: int | None = None
    passed: bool = False


def _loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
    except ValueError:
        raise SystemExit(f"只允许攻击本机回环地址(127.0.0.0/8、::1),而不是 {host!r}") from None
    return host, parts.port or 80


def raise_nofile(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start_server(args: argparse.Namespace, run_dir: Path) -> serveproc.ServeProcess:
    extra: list[str] = []
    if args.embedder:
        extra += ["--embedder", args.embedder]
    if args.index:
        extra += ["--index", str(args.index)]
    if args.max_server_connections:
        extra += ["--max-connections", str(args.max_server_connections)]
    try:
        return serveproc.start(run_dir, args.workers, extra)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from exc


def _server_fds(proc: subprocess.Popen[bytes] | None) -> int | None:
    """Open files of the server and its workers (Linux /proc), to show the cap at work."""
    if proc is None:
        return None
    pids = {proc.pid}
    try:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
                if int(stat[1]) == proc.pid:  # ppid
                    pids.add(int(entry.name))
        return sum(len(list(Path(f"/proc/{pid}/fd").iterdir())) for pid in pids)
    except OSError:
        return None


def open_idle(host: str, port: int, n: int, errors: dict[str, int]) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        code = s.connect_ex((host, port))
        if code not in (0, errno.EINPROGRESS):
            errors[errno.errorcode.get(code, str(code))] = errors.get(errno.errorcode.get(code, str(code)), 0) + 1
            s.close()
            continue
        sockets.append(s)
    return sockets


def count_closed(sockets: list[socket.socket]) -> int:
    closed = 0
    for s in sockets:
        try:
            data = s.recv(1024)
        except BlockingIOError:
            continue  # still open, nothing sent by the server
        except OSError:
            closed += 1  # reset or never connected
            continue
        if data == b"" or data.startswith(b"HTTP/1.1 503"):
            closed += 1
    return closed


def probe(http: httpx.Client) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        ok = http.get("/healthz").status_code == 200
        ok = ok and http.post("/api/ask", json={"question": "灵活就业有什么补贴"}).status_code == 200
    except httpx.HTTPError:
        ok = False
    return time.perf_counter() - started, ok


def run(args: argparse.Namespace) -> Result:
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="policy-attack-idle-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    proc, log_path = None, None
    if args.url:
        base = args.url.rstrip("/")
    else:
        server = start_server(args, run_dir)
        proc, base, log_path = server.proc, server.url, server.log_path
    host, port = _loopback(base)
    result = Result(target=base, connections_wanted=args.connections)
    log_before = log_path.stat().st_size if log_path else None
    fds_max = 0
    sockets: list[socket.socket] = []
    latencies: list[float] = []
    try:
        with httpx.Client(base_url=base, timeout=max(5.0, args.max_latency * 5)) as http:
            probe(http)  # warm up the normal client's path once
            started = time.monotonic()
            batch = max(1, args.connections // 20)
            while len(sockets) < args.connections and time.monotonic() - started < args.hold:
                sockets += open_idle(host, port, min(batch, args.connections - len(sockets)), result.connect_errors)
            result.opening_s = round(time.monotonic() - started, 2)
            result.connections_opened = len(sockets)
            # A burst faster than the server can accept overflows the kernel's accept queue
            # (net.core.somaxconn); the SYNs it drops, the attacker's and anyone else's, are resent
            # by TCP after 1 s. That delay is reported on its own; the verdict is about the hold.
            with httpx.Client(base_url=base, timeout=max(5.0, args.max_latency * 5)) as fresh:
                elapsed, _ = probe(fresh)
            result.burst_probe_ms = round(elapsed * 1000, 1)
            time.sleep(args.settle)
            until = time.monotonic() + args.hold
            while time.monotonic() < until:
                # Fresh connections for the normal client, as a new visitor would open.
                with httpx.Client(base_url=base, timeout=max(5.0, args.max_latency * 5)) as fresh:
                    elapsed, ok = probe(fresh)
                latencies.append(elapsed)
                result.probe_failures += not ok
                fds_max = max(fds_max, _server_fds(proc) or 0)
                time.sleep(0.5)
        result.closed_by_server = count_closed(sockets)
        result.still_open_at_end = len(sockets) - result.closed_by_server
    finally:
        for s in sockets:
            s.close()
        if proc is not None:
            time.sleep(0.5)
            log_after = log_path.stat().st_size if log_path else None
            serveproc.stop(server)
            if log_before is not None and log_after is not None:
                result.log_growth_bytes = log_after - log_before
    result.probes = len(latencies)
    result.probe_ms = [round(x * 1000, 1) for x in latencies]
    result.probe_worst_ms = round(max(latencies, default=0.0) * 1000, 1)
    result.probe_p50_ms = round(sorted(latencies)[len(latencies) // 2] * 1000, 1) if latencies else 0.0
    result.server_fds_max = fds_max or None
    result.passed = (
        result.connections_opened >= args.connections
        and result.probes > 0
        and result.probe_failures == 0
        and result.probe_worst_ms <= args.max_latency * 1000
        and (result.log_growth_bytes is None or result.log_growth_bytes < 1_000_000)
    )
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000, help="空闲连接数(默认 10000)")
    parser.add_argument("--hold", type=float, default=20.0, help="保持连接的秒数(默认 20)")
    parser.add_argument("--max-latency", type=float, default=1.0, help="正常客户端允许的最长响应秒数(默认 1)")
    parser.add_argument("--settle", type=float, default=1.0, help="建立连接后等待几秒再开始计时探测(默认 1;TCP 重传 SYN 需 1 秒)")
    parser.add_argument("--url", help="攻击已在运行的实例(仅限回环地址);默认自行启动一个")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--embedder", help="自行启动时使用的向量模型(默认同 serve)")
    parser.add_argument("--index", type=Path, help="自行启动时使用的索引目录")
    parser.add_argument("--max-server-connections", type=int, help="传给 serve 的 --max-connections")
    parser.add_argument("--run-dir", type=Path, help="服务器日志和数据目录放在这里")
    parser.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.connections <= MAX_CONNECTIONS or not 0 < args.hold <= MAX_HOLD:
        parser.error(f"--connections 应在 1–{MAX_CONNECTIONS},--hold 应在 0–{MAX_HOLD:g} 秒")
    limit = raise_nofile(args.connections + 256)
    if limit < args.connections + 64:
        parser.error(f"本进程最多能打开 {limit} 个文件,不够 {args.connections} 个连接(ulimit -Hn)")
    result = run(args)
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False, indent=2))
    else:
        print(f"目标 {result.target}:打开空闲连接 {result.connections_opened}/{result.connections_wanted}"
              f"(用时 {result.opening_s} 秒,连接错误 {result.connect_errors or 0})")  # fmt: skip
        print(f"被服务器关闭 {result.closed_by_server},结束时仍打开 {result.still_open_at_end};"
              f"服务器打开文件数最多 {result.server_fds_max}")  # fmt: skip
        print(f"连接洪峰刚过时的一次探测 {result.burst_probe_ms} ms(不计入判定)")
        print(f"正常客户端 {result.probes} 次探测,失败 {result.probe_failures},"
              f"最慢 {result.probe_worst_ms} ms,中位 {result.probe_p50_ms} ms")  # fmt: skip
        print(f"服务器日志增长 {result.log_growth_bytes} 字节")
        print("通过" if result.passed else "未通过")
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
