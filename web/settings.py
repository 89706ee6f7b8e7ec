"""Settings of the web edge: a typed, frozen view of `assistant.config.Settings`.

Every worker process builds its own app from the same environment, so all workers agree. The
environment is read by the one pydantic-settings model in assistant/config.py, which logs a
malformed value and falls back to the *safe* default (rate limit on, no proxy trusted) instead of
stopping the worker: a worker that dies at start-up is restarted by the process manager and dies
again, a crash loop that helps nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import (
    ADMIN_TOKEN_ENV,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETENTION_DAYS,
    MAX_ACTIVE_ENV,
    MAX_QUEUED_ENV,
    RATE_LIMIT_ENV,
    RETENTION_ENV,
    TRUSTED_PROXIES_ENV,
    WECHAT_TOKEN_ENV,
    IPNetwork,
    Rate,
    Settings,
    default_data_dir,
    parse_networks,
    parse_rate,
    parse_retention,
)

# A question is at most 500 characters (≈1.5 KB of UTF-8 JSON); 16 KB leaves room for any
# honest client and stops uploads before anything is parsed.
MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class WebSettings:
    data_dir: Path = field(default_factory=default_data_dir)
    rate_limit: Rate | None = Rate(30, 60.0)  # noqa: RUF009 - frozen: one shared default is safe
    # Where the limiter keeps its counters (a `limits` storage URI): memory:// is per process.
    rate_limit_storage: str = "memory://"
    trusted_proxies: tuple[IPNetwork, ...] = ()
    max_body_bytes: int = MAX_BODY_BYTES
    question_log: bool = True
    # None: the SQLite file in data_dir. Holds a password: kept out of repr().
    database_url: str | None = field(default=None, repr=False)
    # Entries the question log's writer thread may hold; 0 writes on the request's own thread
    # (what tests built from this class want: read-your-writes). From the environment: 10000.
    log_queue: int = 0
    # Questions per worker: answered at once, and waiting (beyond that: 503 + Retry-After).
    max_active_questions: int = 8
    max_queued_questions: int = 100
    question_queue_timeout: float = 10.0
    # Questions older than this are deleted by the server itself; the privacy notice states it.
    retention_days: int = DEFAULT_RETENTION_DAYS
    # Tokens are secrets: kept out of repr() so a logged settings object never shows them.
    admin_token: str | None = field(default=None, repr=False)
    wechat_token: str | None = field(default=None, repr=False)
    # 安全模式/兼容模式: the account's EncodingAESKey (43 characters) and AppID; None: 明文模式 only.
    wechat_aes_key: str | None = field(default=None, repr=False)
    wechat_appid: str | None = None
    # Seconds a WeChat question may take before a lexical-only answer is sent instead (WeChat
    # drops a reply that takes more than 5 s and retries the message).
    wechat_budget: float = 4.0
    # The policy library staff edit from /admin/documents and the folder of its published versions (issue 21);
    # None switches the documents page (library) and the version watcher (releases) off.
    library_dir: Path | None = None
    releases_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        env = Settings.from_env(environ)
        return cls(
            data_dir=env.data_dir,
            rate_limit=env.rate_limit,
            rate_limit_storage=env.rate_limit_storage,
            trusted_proxies=env.trusted_proxies,
            database_url=env.database_url,
            log_queue=env.log_queue,
            retention_days=env.retention_days,
            max_active_questions=env.max_active_questions,
            max_queued_questions=env.max_queued_questions,
            admin_token=env.admin_token,
            wechat_token=env.wechat_token,
            wechat_aes_key=env.wechat_aes_key,
            wechat_appid=env.wechat_appid,
            library_dir=env.corpus_dir,
            # Published versions live in the data directory: shared and writable on every replica, while the
            # deployment's own index (POLICY_ASSISTANT_INDEX) may stay read-only.
            releases_dir=env.data_dir / "releases",
        )


__all__ = [
    "ADMIN_TOKEN_ENV",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETENTION_DAYS",
    "MAX_ACTIVE_ENV",
    "MAX_BODY_BYTES",
    "MAX_QUEUED_ENV",
    "RATE_LIMIT_ENV",
    "RETENTION_ENV",
    "TRUSTED_PROXIES_ENV",
    "WECHAT_TOKEN_ENV",
    "IPNetwork",
    "Rate",
    "WebSettings",
    "parse_networks",
    "parse_rate",
    "parse_retention",
]
