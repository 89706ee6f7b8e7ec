"""`policy-assistant serve` as a child process on a loopback port, for the benchmark and the attack
and load scripts: start it, wait until /healthz answers, stop it and its workers.

One place for this, because three tools need exactly the same care: a throwaway data directory,
rate limiting off, the server's output in a file, and stopping only the process group started here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class ServeProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path


def start(
    run_dir: Path,
    workers: int = 2,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    ready_timeout: float = 300.0,
) -> ServeProcess:
    """Start `serve` with its data directory and log under `run_dir`; return once /healthz is 200."""
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = run_dir / "server.log"
    child_env = {
        **os.environ,
        "POLICY_ASSISTANT_RATE_LIMIT": "0",
        "POLICY_ASSISTANT_DATA": str(run_dir / "data"),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    command = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), *extra_args]  # fmt: skip
    with log_path.open("wb") as log_file:
        # A session of its own, so that stopping it reaches the workers and nothing else.
        proc = subprocess.Popen(command, cwd=ROOT, env=child_env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    server = ServeProcess(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"服务器提前退出(代码 {proc.returncode}),见 {log_path}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        time.sleep(0.3)
    stop(server)
    raise RuntimeError("服务器未能在规定时间内就绪")


def stop(server: ServeProcess) -> None:
    proc = server.proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def served(
    run_dir: Path, workers: int = 2, extra_args: Sequence[str] = (), env: dict[str, str] | None = None
) -> Iterator[ServeProcess]:
    server = start(run_dir, workers, extra_args, env)
    try:
        yield server
    finally:
        stop(server)


__all__ = ["ServeProcess", "free_port", "served", "start", "stop"]
