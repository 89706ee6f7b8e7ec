"""A throwaway PostgreSQL server on a loopback port, from the Debian `postgresql` package.

For the tests that must run against the real thing (the question log on both backends, the
replica integration test) and for trying a replica set by hand. Debian keeps initdb and pg_ctl in
/usr/lib/postgresql/<version>/bin, off PATH, and they refuse to run as root: as root the server is
run as the `postgres` user (via runuser), on a private temporary directory it owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

PG_LIB = Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"


def find_pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory holding initdb and pg_ctl, or None."""
    candidates = sorted(
        (p for p in PG_LIB.glob("*/bin") if (p / "initdb").is_file() and (p / "pg_ctl").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


def missing_reason() -> str | None:
    """Why a cluster cannot be started here (None: it can)."""
    if find_pg_bin() is None:
        return "未找到 PostgreSQL(initdb/pg_ctl);请安装 Debian 的 postgresql 包:apt-get install -y postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return f"以 root 运行时需要用户 {SERVICE_USER} 来启动 PostgreSQL(initdb 拒绝以 root 运行)"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgCluster:
    """A running server: connect with `url(database)`; stop/start to simulate an outage."""

    root: Path
    port: int
    user: str
    password: str
    bin_dir: Path

    def url(self, database: str = "postgres") -> URL:
        return URL.create(
            "postgresql+psycopg", username=self.user, password=self.password,
            host="127.0.0.1", port=self.port, database=database,
        )  # fmt: skip

    def url_string(self, database: str = "postgres") -> str:
        return self.url(database).render_as_string(hide_password=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout, cwd=self.root)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            # A test server: durability is not the point, speed is.
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text(errors="replace")
        return ""


@contextlib.contextmanager
def temporary_cluster() -> Iterator[PgCluster]:
    """initdb a cluster in a fresh private directory, start it, yield it, stop and delete it."""
    reason = missing_reason()
    if reason is not None:
        raise RuntimeError(reason)
    bin_dir = find_pg_bin()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="policy-assistant-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVICE_USER)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    password = secrets.token_urlsafe(16)
    cluster = PgCluster(root=root, port=free_port(), user="policy", password=password, bin_dir=bin_dir)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    try:
        cluster._run(
            "initdb", "-D", str(cluster.data), "-U", cluster.user, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            timeout=120,
        )  # fmt: skip
        pwfile.unlink()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["PgCluster", "find_pg_bin", "free_port", "missing_reason", "temporary_cluster"]
