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
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


def test_the_proxy_serves_https_only_with_mozillas_intermediate_settings() -> None:
    site = NGINX_SITE.read_text()
    live = re.sub(r"#.*", "", site)
    assert re.search(r"^\s*listen 443 ssl", live, re.MULTILINE) and "return 301 https://$host$request_uri;" in live
    assert re.search(r"^ssl_protocols TLSv1\.2 TLSv1\.3;$", live, re.MULTILINE)
    assert "ssl_session_tickets off;" in live and "ssl_prefer_server_ciphers off;" in live
    ciphers = re.search(r"^ssl_ciphers (\S+);$", live, re.MULTILINE)
    assert ciphers and all(c.startswith(("ECDHE-", "DHE-")) and ("GCM" in c or "CHACHA20" in c)
                           for c in ciphers[1].split(":"))  # fmt: skip
    # OCSP stapling: present for real certificates, commented out (a self-signed one has no responder).
    assert re.search(r"^\s*# ssl_stapling on;$", site, re.MULTILINE) and "ssl_stapling" not in live
    # HSTS on the server and again wherever a location's own add_header would replace it.
    assert live.count('add_header Strict-Transport-Security "max-age=63072000" always;') == 3
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    proxy = compose["services"]["proxy"]
    assert "443:443" in proxy["ports"] and "./tls:/etc/nginx/tls:ro" in proxy["volumes"]


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


def nginx_config(work: Path, listen: int, replicas: list[int], https: int | None = None) -> Path:
    """deploy/'s site config with the test's ports and certificate, inside a minimal main config."""
    site = NGINX_SITE.read_text()
    servers = "\n".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" for port in replicas)
    site, n = re.subn(r"^\s*server app:8000 .*;$", servers, site, flags=re.MULTILINE)
    assert n == 1
    site, n = re.subn(r"^\s*listen 80;$", f"    listen 127.0.0.1:{listen};", site, flags=re.MULTILINE)
    assert n == 1
    # The HTTPS server: on its own test port, with the certificate self_signed() made in `work`.
    site, n = re.subn(r"^\s*listen 443 ssl http2;.*$", f"    listen 127.0.0.1:{https or free_port()} ssl http2;",
                      site, flags=re.MULTILINE)  # fmt: skip
    assert n == 1
    site = site.replace("/etc/nginx/tls/", f"{work}/tls/").replace("/var/log/nginx/", f"{work}/")
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


# Clients of an https:// URL trust the test's own self-signed certificate, registered here by URL.
TLS_CONTEXTS: dict[str, ssl.SSLContext] = {}


def self_signed(work: Path) -> Path:
    """A certificate for 127.0.0.1 made with openssl at test time: work/tls/{fullchain,privkey}.pem."""
    _require(None if shutil.which("openssl") else "未找到 openssl;请安装 Debian 的 openssl 包:apt-get install -y openssl")
    tls = work / "tls"
    tls.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(tls / "privkey.pem"), "-out", str(tls / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return tls / "fullchain.pem"


def trust(url: str, cert: Path) -> None:
    TLS_CONTEXTS[url] = ssl.create_default_context(cafile=str(cert))


def _verify(url: str) -> ssl.SSLContext | bool:
    return next((ctx for base, ctx in TLS_CONTEXTS.items() if url.startswith(base)), True)


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
                if httpx.get(f"{url}/healthz", timeout=2, verify=_verify(url)).status_code == 200:
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
    transport = httpx.HTTPTransport(local_address=source, verify=_verify(url))
    return httpx.Client(base_url=url, transport=transport, timeout=20)


def start_replicas(work: Path, env: dict[str, str], n: int = 2) -> list[serveproc.ServeProcess]:
    """`n` replicas started at once: a start is mostly the child's imports and index load, so two side by side take
    about one's wall time. If one fails, the others are stopped before its error is raised."""
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(serveproc.start, work / f"r{i}", 1, env=env) for i in range(n)]
    started, errors = [], []
    for future in futures:
        try:
            started.append(future.result())
        except Exception as exc:  # re-raised below, once the others are stopped
            errors.append(exc)
    if errors:
        for r in started:
            serveproc.stop(r)
        raise errors[0]
    return started


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
    replicas = start_replicas(work, env)
    try:
        ports = [int(r.url.rsplit(":", 1)[1]) for r in replicas]
        listen, https = free_port(), free_port()
        url = f"https://127.0.0.1:{https}"  # through the TLS server; port 80 only redirects (issue 22)
        trust(url, self_signed(work))
        with running_nginx(nginx_config(work, listen, ports, https), work, url):
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


# ---- issue 22: TLS at the proxy; admin sessions and WeChat state shared by the replicas ------------

ADMIN_TOKEN = "replica-admin-token-0123456789"
WECHAT_TOKEN = "replicawxtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx5823bf96d3bd56c7"
ACCOUNT = "gh_0123456789ab"


def _spec_encrypt(message: bytes) -> str:
    """WeChat's published 消息加解密, written here with pycryptodome (independent of web/wechat_crypto.py)."""
    import base64
    import secrets
    import struct

    from Crypto.Cipher import AES

    key = base64.b64decode(AES_KEY + "=")
    plain = secrets.token_bytes(16) + struct.pack(">I", len(message)) + message + APPID.encode()
    plain += bytes([32 - len(plain) % 32]) * (32 - len(plain) % 32)
    return base64.b64encode(AES.new(key, AES.MODE_CBC, key[:16]).encrypt(plain)).decode()


def _spec_decrypt(encrypted: str) -> bytes:
    import base64
    import struct

    from Crypto.Cipher import AES

    key = base64.b64decode(AES_KEY + "=")
    plain = AES.new(key, AES.MODE_CBC, key[:16]).decrypt(base64.b64decode(encrypted))
    plain = plain[: -plain[-1]]
    (n,) = struct.unpack(">I", plain[16:20])
    assert plain[20 + n :] == APPID.encode()
    return plain[20 : 20 + n]


_sequence = iter(range(10**6, 10**7))


def _signed(*extra: str) -> dict[str, str]:
    import hashlib

    ts, nonce = str(int(time.time())), str(next(_sequence))
    params = {"timestamp": ts, "nonce": nonce,
              "signature": hashlib.sha1("".join(sorted([WECHAT_TOKEN, ts, nonce])).encode()).hexdigest()}  # fmt: skip
    if extra:
        params["msg_signature"] = hashlib.sha1("".join(sorted([WECHAT_TOKEN, ts, nonce, *extra])).encode()).hexdigest()
    return params


def _wechat_text(content: str, msg_id: int, user: str) -> bytes:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>").encode()  # fmt: skip


def _content(resp: httpx.Response) -> str:
    import xml.etree.ElementTree as ET

    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    encrypted = root.findtext("Encrypt")
    if encrypted:
        root = ET.fromstring(_spec_decrypt(encrypted))
    return root.findtext("Content") or ""


@pytest.mark.integration
def test_tls_admin_sessions_and_wechat_state_are_shared_by_two_replicas(pg: PgCluster) -> None:
    import psycopg

    with psycopg.connect(pg.url_string().replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS shared_state")
        conn.execute("CREATE DATABASE shared_state")
    work = Path(tempfile.mkdtemp(prefix="policy-assistant-tls-"))
    os.chmod(work, 0o755)
    try:
        index = work / "index"
        Assistant.load(index_dir=index, embedder="chars")
        env = {
            "POLICY_ASSISTANT_DATABASE_URL": pg.url_string("shared_state"),
            "POLICY_ASSISTANT_INDEX": str(index),
            "POLICY_ASSISTANT_EMBEDDER": "chars",
            "POLICY_ASSISTANT_DATA": str(work / "data"),
            "POLICY_ASSISTANT_TRUSTED_PROXIES": "127.0.0.1",
            "POLICY_ASSISTANT_RATE_LIMIT": "0",
            "POLICY_ASSISTANT_ADMIN_TOKEN": ADMIN_TOKEN,
            "POLICY_ASSISTANT_WECHAT_TOKEN": WECHAT_TOKEN,
            "POLICY_ASSISTANT_WECHAT_AES_KEY": AES_KEY,
            "POLICY_ASSISTANT_WECHAT_APPID": APPID,
        }
        replicas = start_replicas(work, env)
        try:
            ports = [int(r.url.rsplit(":", 1)[1]) for r in replicas]
            listen, https = free_port(), free_port()
            url = f"https://127.0.0.1:{https}"
            trust(url, self_signed(work))
            with running_nginx(nginx_config(work, listen, ports, https), work, url):
                _tls(url, f"http://127.0.0.1:{listen}")
                _admin_sessions(url, [r.url for r in replicas])
                signatures = _wechat(url, [r.url for r in replicas], pg, work / "data")
            # nginx's own access log has no signatures or nonces (it logs paths without queries).
            proxy_log = (work / "policy-assistant.access.log").read_text()
            assert "POST /wechat HTTP" in proxy_log and not any(sig in proxy_log for sig in signatures)
            for r in replicas:  # nor the replicas' (their access log masks them)
                text = r.log_path.read_text(errors="replace")
                assert not any(sig in text for sig in signatures)
        finally:
            for r in replicas:
                serveproc.stop(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tls(url: str, plain: str) -> None:
    with client("127.0.0.201", url) as c:
        for path in ("/healthz", "/", "/api/measures", "/no-such-page"):
            resp = c.get(path)
            assert resp.headers.get_list("strict-transport-security") == ["max-age=63072000"], path
        assert c.get("/healthz").http_version in ("HTTP/1.1", "HTTP/2")
    with client("127.0.0.201", plain) as c:
        moved = c.get("/lookup?x=1", follow_redirects=False)
        assert moved.status_code == 301 and moved.headers["location"] == "https://127.0.0.1/lookup?x=1"
        assert c.post("/api/ask", json={"question": "灵活就业"}).status_code == 301  # never answered over http
        assert c.get("/healthz").status_code == 200  # probes still reach it
        assert "strict-transport-security" not in c.get("/healthz").headers


def _admin_sessions(url: str, direct: list[str]) -> None:
    with client("127.0.0.202", url) as c:
        page = c.get("/admin")
        login = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert login
        resp = c.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": login[1]}, follow_redirects=False)
        assert resp.status_code == 303
        cookie = next(v for v in resp.headers.get_list("set-cookie") if v.startswith("pa_admin="))
        assert "secure" in {f.strip().lower() for f in cookie.split(";")}  # X-Forwarded-Proto from nginx
        session = cookie.split(";", 1)[0]
        dashboard = c.get("/admin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', dashboard.text)
        assert dashboard.status_code == 200 and csrf
    # The session is in PostgreSQL: each replica, asked directly, knows it …
    for base in direct:
        assert httpx.get(f"{base}/admin", headers={"Cookie": session}).status_code == 200
    signed_out = httpx.post(f"{direct[0]}/admin/logout", data={"csrf": csrf[1]},
                            headers={"Cookie": session}, follow_redirects=False)  # fmt: skip
    assert signed_out.status_code == 303
    # … and after signing out on the first, every admin route of the second refuses it.
    for method, path in [("GET", "/admin"), ("GET", "/admin/glossary"), ("GET", "/admin/export/unanswered.csv"),
                         ("POST", "/admin/glossary"), ("POST", "/admin/logout"), ("POST", "/admin/logout-all")]:  # fmt: skip
        data = {"csrf": csrf[1], "q": "灵活就业"} if method == "POST" else None
        got = httpx.request(method, f"{direct[1]}{path}", data=data, headers={"Cookie": session}, follow_redirects=False)
        assert got.status_code == 401, (method, path)


def _wechat(url: str, direct: list[str], pg: PgCluster, data: Path) -> list[str]:
    """WeChat through nginx and each replica directly; the signatures used (for the log checks)."""
    used: list[str] = []
    user = "oReplicaUser_abcdefghijklmnop"

    def post(base: str, body: bytes, params: dict[str, str] | None = None) -> httpx.Response:
        params = params or _signed()
        used.append(params["signature"])
        return httpx.post(f"{base}/wechat", params=params, content=body, verify=_verify(base), timeout=20)

    # A replayed (timestamp, nonce, signature) with another body is refused by the other replica.
    params = _signed()
    assert "第3条" in _content(post(direct[0], _wechat_text("灵活就业人员意外伤害保险补贴", 5001, user), params))
    assert post(direct[1], _wechat_text("创业担保贷款", 5002, "oAttacker_abcdefghijklmnopq"), params).status_code == 403
    # A follow-up through the other replica keeps its context.
    assert "第7条" in _content(post(direct[0], _wechat_text("重点群体就业创业税收优惠政策", 5003, user)))
    assert "城阳区税务局" in _content(post(direct[1], _wechat_text("那找哪个部门?", 5004, user))).split("相关条目")[0]
    # WeChat's retry of one MsgId, landing on the other replica: the same reply, answered once.
    body = _wechat_text("创业担保贷款额度是多少", 5005, user)
    first = _content(post(direct[0], body))
    assert _content(post(direct[1], body)) == first and _content(post(url, body)) == first
    # 安全模式 through nginx over HTTPS: encrypted with the independent implementation, reply decrypted by it.
    encrypted = _spec_encrypt(_wechat_text("灵活就业人员意外伤害保险补贴", 5006, user))
    params = {**_signed(encrypted), "encrypt_type": "aes", "openid": user}
    used.extend([params["msg_signature"], params["nonce"]])
    envelope = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    resp = post(url, envelope.encode(), params)
    assert "<Encrypt>" in resp.text and "第3条" in _content(resp)
    with QuestionLog(data, pg.url_string("shared_state")) as log:
        deadline = time.monotonic() + 15
        while len(log.recent()) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # nothing more arrives: the retries were not logged again
        rows = log.recent()
    assert len(rows) == 5 and {r.channel for r in rows} == {"wechat"}, rows
    return used


__all__: list[Any] = []


# ---- issue 21: a publish through one replica is quoted by the other ------------------------------------


ADMIN_TOKEN = "replicas-test-admin-token-000000001"


def test_the_compose_file_shares_the_library_and_its_versions_between_replicas() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    app, index = compose["services"]["app"], compose["services"]["index"]
    corpus = app["environment"].get("POLICY_ASSISTANT_CORPUS", "/srv/policy-assistant/corpus")
    # Staff edit one library every replica reads (and the index service builds from); it is writable.
    assert f"library:{corpus}" in app["volumes"] and f"library:{corpus}" in index["volumes"]
    # Published versions go to the shared, writable data volume (data/releases).
    data = app["environment"]["POLICY_ASSISTANT_DATA"]
    assert f"appdata:{data}" in app["volumes"]
    assert "library" in compose["volumes"]
GUIDE_DOCX = ROOT / "tests" / "fixtures" / "library" / "guide-startup-subsidy.docx"


@pytest.mark.integration
def test_a_document_published_through_one_replica_is_quoted_by_the_other(pg: PgCluster) -> None:
    work = Path(tempfile.mkdtemp(prefix="policy-assistant-publish-"))
    os.chmod(work, 0o755)  # nginx's workers write temp files (the buffered upload) here
    try:
        library = work / "library"  # the shared library volume
        shutil.copytree(ROOT / "corpus", library)
        index = work / "index"  # the deployment's index, read-only as in compose: versions go to the data volume
        Assistant.load(corpus_dir=library, index_dir=index, embedder="chars")
        for path in [index, *index.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        env = {
            "POLICY_ASSISTANT_DATABASE_URL": pg.url_string(),
            "POLICY_ASSISTANT_CORPUS": str(library),
            "POLICY_ASSISTANT_INDEX": str(index),
            "POLICY_ASSISTANT_EMBEDDER": "chars",
            "POLICY_ASSISTANT_DATA": str(work / "data"),  # shared: the published versions (data/releases)
            "POLICY_ASSISTANT_TRUSTED_PROXIES": "127.0.0.1",
            "POLICY_ASSISTANT_RATE_LIMIT": "0",
            "POLICY_ASSISTANT_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        replicas = start_replicas(work, env)
        try:
            listen, https = free_port(), free_port()
            url = f"https://127.0.0.1:{https}"  # the shipped proxy serves the app over HTTPS only
            trust(url, self_signed(work))
            ports = [int(r.url.rsplit(":", 1)[1]) for r in replicas]
            with running_nginx(nginx_config(work, listen, ports, https), work, url):
                _publish_and_ask(url, replicas)
        finally:
            for r in replicas:
                serveproc.stop(r)
        assert not list(work.rglob("evil*"))  # the upload's name reached no path
        assert (work / "data" / "releases" / "CURRENT").exists()
    finally:
        for path in [work / "index", *(work / "index").rglob("*")]:
            with contextlib.suppress(OSError):
                path.chmod(path.stat().st_mode | 0o200)
        shutil.rmtree(work, ignore_errors=True)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m[1]


def _publish_and_ask(url: str, replicas: list[serveproc.ServeProcess]) -> None:
    question = "一次性创业补贴要带哪些申请材料"
    title = "城阳区一次性创业补贴办事指南（示例）"
    for r in replicas:  # before: neither replica knows the guide
        assert title not in httpx.post(f"{r.url}/api/ask", json={"question": question}, timeout=20).json()["answer"]
    # Staff publish through the proxy (whichever replica takes each request), as their browser would: sign-in
    # cookie, CSRF, a multipart upload buffered by nginx.
    with client("127.0.0.202", url) as staff:
        login = staff.get("/admin")
        assert staff.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": _csrf(login.text)}).status_code == 303
        page = staff.get("/admin/documents")
        resp = staff.post("/admin/documents/upload", data={"csrf": _csrf(page.text), "doc_id": "startup-guide"},
                          files={"file": ("../../evil.docx", GUIDE_DOCX.read_bytes())}, follow_redirects=False)  # fmt: skip
        assert resp.status_code == 303, resp.text[:500]
        preview = staff.get(resp.headers["location"])
        assert "申请材料" in preview.text and "0532-87865432" in preview.text
        done = staff.post(resp.headers["location"], data={"csrf": _csrf(preview.text), "doc_id": "startup-guide",
                          "action": "publish"}, follow_redirects=False)  # fmt: skip
        assert done.status_code == 303
    # Each replica — the one that built the version and the one never told anything — picks it up from the shared
    # volume within seconds, without a restart.
    for r in replicas:
        deadline = time.monotonic() + 60
        while True:
            body = httpx.post(f"{r.url}/api/ask", json={"question": question}, timeout=20).json()
            if title in body["answer"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert title in body["answer"] and "0532-87865432" in body["answer"], r.url
        assert any(m["id"].startswith("startup-guide:") for m in body["measures"])
    # And through the proxy, whichever replica answers.
    with client("127.0.0.201", url) as c:
        assert title in c.post("/api/ask", json={"question": question}).json()["answer"]
        # An upload larger than the limit is refused by the proxy with a page that says so, before any replica.
        big = c.post("/admin/documents/upload", content=b"x" * (12 * 1024 * 1024),
                     headers={"Content-Type": "multipart/form-data; boundary=x"})  # fmt: skip
        assert big.status_code == 413 and "不能超过 10 MB" in big.text
        assert "x-request-id" not in big.headers
