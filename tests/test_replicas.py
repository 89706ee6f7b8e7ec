"""Several replicas behind nginx sharing one PostgreSQL question log (issue 13), run for real on loopback.

The integration test starts Debian's PostgreSQL (initdb + pg_ctl on a temporary directory, as the
unprivileged `postgres` user), two `policy-assistant serve` processes on two ports sharing one
read-only chars index and one data directory, and Debian's nginx in the foreground with
deploy/nginx/*.conf (only its ports replaced). Locally it is skipped with the reason when the
binaries are missing; under CI=true (where .ci/run installs them) that is a failure.

The other tests here check deploy/ itself: the compose file's shape and that the proxy sends the
same security headers as the app.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from assistant import Assistant
from assistant.clock import district_today
from assistant.qlog import QuestionLog
from assistant.stats import build_dashboard
from assistant.store.pgcluster import PgCluster, free_port, missing_reason, temporary_cluster
from web import serveproc
from web.security import SECURITY_HEADERS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx" / "policy-assistant.conf"
NGINX_HEADERS = DEPLOY / "nginx" / "security-headers.conf"

QUESTIONS = [
    "送外卖的骑手有没有保险补贴？",
    "创业担保贷款额度是多少",
    "退役军人有哪些政策",
    "高校毕业生来城阳就业有什么补贴",
    "灵活就业社保补贴怎么申请",
    "企业吸纳就业困难人员有补贴吗",
]


# ---- deploy/ as documentation: checked without running anything -------------------------------------


def test_the_compose_file_builds_the_index_once_and_mounts_it_read_only() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"db", "index", "app", "proxy"} <= set(services)
    assert services["app"]["deploy"]["replicas"] >= 2
    assert "index:/srv/index:ro" in services["app"]["volumes"]
    assert "index:/srv/index" in services["index"]["volumes"] and "build" in services["index"]["command"]
    assert services["app"]["depends_on"]["index"] == {"condition": "service_completed_successfully"}
    assert services["app"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert services["app"]["environment"]["POLICY_ASSISTANT_DATABASE_URL"].startswith("postgresql://")
    mounted = " ".join(services["proxy"]["volumes"])
    assert "policy-assistant.conf" in mounted and "security-headers.conf" in mounted
    assert set(compose["volumes"]) >= {"pgdata", "index", "appdata"}


def test_the_proxy_sends_exactly_the_apps_security_headers() -> None:
    added = dict(re.findall(r'^add_header (\S+) "(.*)" always;$', NGINX_HEADERS.read_text(), re.MULTILINE))
    hidden = set(re.findall(r"^proxy_hide_header (\S+);$", NGINX_HEADERS.read_text(), re.MULTILINE))
    assert added == SECURITY_HEADERS
    assert hidden == set(SECURITY_HEADERS)  # sent once, not once by the app and once by nginx


def test_the_proxy_never_resends_a_post_that_reached_a_replica() -> None:
    site = NGINX_SITE.read_text()
    assert re.search(r"^\s*proxy_next_upstream error timeout;", site, re.MULTILINE)
    assert "non_idempotent" not in re.sub(r"#.*", "", site)


# ---- the real thing ---------------------------------------------------------------------------------------


def _require(reason: str | None) -> None:
    if reason is None:
        return
    if os.environ.get("CI") == "true":  # .ci/run installs postgresql and nginx: missing is a failure
        pytest.fail(reason)
    pytest.skip(reason)


def _nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    _require(missing_reason())
    _require(None if _nginx() else "未找到 nginx;请安装 Debian 的 nginx 包:apt-get install -y nginx")
    with temporary_cluster() as cluster:
        yield cluster


def nginx_config(work: Path, listen: int, replicas: list[int]) -> Path:
    """deploy/'s site config with the test's ports, inside a minimal main config of its own."""
    site = NGINX_SITE.read_text()
    servers = "\n".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" for port in replicas)
    site, n = re.subn(r"^\s*server app:8000 .*;$", servers, site, flags=re.MULTILINE)
    assert n == 1
    site, n = re.subn(r"^\s*listen 80;$", f"    listen 127.0.0.1:{listen};", site, flags=re.MULTILINE)
    assert n == 1
    conf = work / "conf"
    conf.mkdir()
    (conf / "policy-assistant.conf").write_text(site)
    shutil.copy(NGINX_HEADERS, conf / "security-headers.conf")
    temp = "\n".join(
        f"    {kind}_temp_path {work}/tmp-{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (conf / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {work}/nginx.pid;\nerror_log {work}/error.log warn;\n"
        "events { worker_connections 512; }\n"
        f"http {{\n    access_log {work}/access.log;\n{temp}\n    include policy-assistant.conf;\n}}\n"
    )
    return conf / "nginx.conf"


@contextlib.contextmanager
def running_nginx(config: Path, work: Path, url: str) -> Iterator[subprocess.Popen[bytes]]:
    binary = _nginx()
    assert binary is not None
    log = (work / "nginx.out").open("wb")
    proc = subprocess.Popen(
        [binary, "-p", f"{work}/", "-c", str(config), "-e", f"{work}/error.log"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, (work / "error.log").read_text(errors="replace")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()


def terminate(server: serveproc.ServeProcess) -> None:
    """Stop a replica the way a process manager does: SIGTERM, then wait for its clean exit."""
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        server.proc.wait(30)


def client(source: str, url: str) -> httpx.Client:
    # Each simulated citizen has a loopback address of its own, so nginx's per-address zones see
    # separate clients, as they would on the internet.
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=source), timeout=20)


@pytest.mark.integration
def test_two_replicas_behind_nginx_share_one_postgresql_log(pg: PgCluster) -> None:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="policy-assistant-replicas-"))
    os.chmod(work, 0o755)  # nginx's workers run as an unprivileged user and write temp files here
    try:
        _run(pg, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert time.monotonic() - started < 90


def _run(pg: PgCluster, work: Path) -> None:
    index = work / "index"
    Assistant.load(index_dir=index, embedder="chars")
    for path in [index, *index.rglob("*")]:  # shared read-only, as the compose volume is
        path.chmod(path.stat().st_mode & ~0o222)
    data = work / "data"  # shared too: it holds the session-hash key both replicas must agree on
    env = {
        "POLICY_ASSISTANT_DATABASE_URL": pg.url_string(),
        "POLICY_ASSISTANT_INDEX": str(index),
        "POLICY_ASSISTANT_EMBEDDER": "chars",
        "POLICY_ASSISTANT_DATA": str(data),
        "POLICY_ASSISTANT_TRUSTED_PROXIES": "127.0.0.1",
        "POLICY_ASSISTANT_RATE_LIMIT": "0",  # any 429 below is the proxy's
    }
    replicas: list[serveproc.ServeProcess] = []
    starting = [
        threading.Thread(target=lambda i=i: replicas.append(serveproc.start(work / f"r{i}", 1, env=env)))
        for i in range(2)
    ]
    for t in starting:
        t.start()
    for t in starting:
        t.join(120)
    assert len(replicas) == 2, "a replica did not start"
    try:
        ports = [int(r.url.rsplit(":", 1)[1]) for r in replicas]
        listen = free_port()
        url = f"http://127.0.0.1:{listen}"
        with running_nginx(nginx_config(work, listen, ports), work, url):
            _exercise(pg, url, replicas, data)
    finally:
        for r in replicas:
            serveproc.stop(r)


def _exercise(pg: PgCluster, url: str, replicas: list[serveproc.ServeProcess], data: Path) -> None:
    answered: list[str] = []
    failed: list[int] = []
    lock = threading.Lock()
    halfway = threading.Barrier(7)

    def citizen(n: int) -> None:
        session = f"sess_replica-test-{n:04d}-abcdef"
        with client(f"127.0.0.{10 + n}", url) as c:
            for i in range(12):
                if i == 4:
                    halfway.wait(30)  # replica 2 is stopped while everyone is mid-conversation
                resp = c.post("/api/ask", json={"question": QUESTIONS[(n + i) % len(QUESTIONS)]},
                              headers={"X-Session-Id": session})  # fmt: skip
                with lock:
                    if resp.status_code == 200:
                        answered.append(resp.json()["answer_id"])
                    else:
                        failed.append(resp.status_code)

    threads = [threading.Thread(target=citizen, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    halfway.wait(30)
    terminate(replicas[1])  # mid-run: its in-flight answers finish and its queue is written
    for t in threads:
        t.join(60)

    # Almost every question is answered: connections refused by the stopped replica go to the
    # other one; at most a POST caught on a closing keep-alive connection fails (not resent).
    assert len(answered) + len(failed) == 72 and len(answered) >= 66, failed
    assert set(failed) <= {502, 503}, failed

    # Both replicas answered questions, before the second one was stopped.
    served = [r.log_path.read_text(errors="replace").count('"POST /api/ask') for r in replicas]
    assert all(n > 0 for n in served), served

    # Every answered question has its row in the one log, from both replicas.
    with QuestionLog(data, pg.url_string()) as log:
        deadline = time.monotonic() + 15
        while True:
            rows = log.between("2000-01-01")
            stored = {r.entry.answer_id for r in rows}
            if set(answered) <= stored or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert set(answered) <= stored, f"{len(set(answered) - stored)} answered questions were not logged"
        assert len(rows) == len(stored)  # and none twice
        # One key for both replicas: each citizen's questions share one session hash.
        assert len({r.entry.session_id for r in rows}) == 6
        # The dashboard's figures read the same store, so they count both replicas' questions.
        stats = log.stats()
        # The servers' clock, in the district's days; two of them, in case the run crossed midnight.
        dashboard = build_dashboard(rows, days=2, today=district_today(), measures=[f"m{i}" for i in range(1, 21)])
        assert stats.total == len(rows) and dashboard.total == len(rows)

    _proxy_errors(url)


def _proxy_errors(url: str) -> None:
    """nginx's own refusals are JSON in the app's shape, with the app's security headers, once."""
    with client("127.0.0.200", url) as c:
        ok = c.get("/healthz")
        assert ok.status_code == 200
        for name, value in SECURITY_HEADERS.items():
            assert ok.headers.get_list(name) == [value], name

        big = c.post("/api/ask", content=b'{"question": "' + b"x" * 20_000 + b'"}',
                     headers={"Content-Type": "application/json"})  # fmt: skip
        assert big.status_code == 413 and big.json()["error"] == "too_large"
        assert "x-request-id" not in big.headers  # refused by the proxy, never reached a replica
        for name, value in SECURITY_HEADERS.items():
            assert big.headers.get_list(name) == [value], name

        # A flood of POSTs from one address: past the burst, the proxy answers 429 itself.
        statuses: list[httpx.Response] = [c.post("/api/feedback", json={}) for _ in range(45)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, [r.status_code for r in statuses]
        assert limited[0].json()["error"] == "too_many_requests" and limited[0].headers["retry-after"]
        for name, value in SECURITY_HEADERS.items():
            assert limited[0].headers.get_list(name) == [value], name


__all__: list[Any] = []
