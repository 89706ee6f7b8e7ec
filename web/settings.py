"""Settings of the web edge, read once from the environment when the app is created.

Every worker process builds its own app from the same environment, so all workers agree.
A malformed value is logged and replaced by the *safe* default (rate limit on, no proxy
trusted) instead of stopping the worker: a worker that dies at start-up is restarted by the
process manager and dies again, a crash loop that helps nobody.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assistant.qlog import DATA_DIR_ENV, default_data_dir

log = logging.getLogger("policy_assistant.web")

RATE_LIMIT_ENV = "POLICY_ASSISTANT_RATE_LIMIT"
TRUSTED_PROXIES_ENV = "POLICY_ASSISTANT_TRUSTED_PROXIES"
MAX_ACTIVE_ENV = "POLICY_ASSISTANT_MAX_ACTIVE_QUESTIONS"
MAX_QUEUED_ENV = "POLICY_ASSISTANT_MAX_QUEUED_QUESTIONS"
DEFAULT_RATE_LIMIT = "30/min"
# A question is at most 500 characters (≈1.5 KB of UTF-8 JSON); 16 KB leaves room for any
# honest client and stops uploads before anything is parsed.
MAX_BODY_BYTES = 16 * 1024

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_UNITS = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
}  # fmt: skip
_RATE_RE = re.compile(r"\s*(\d+)\s*(?:/\s*(\d*)\s*([a-z]+))?\s*", re.IGNORECASE)


RETENTION_ENV = "POLICY_ASSISTANT_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 180
# Staff dashboard (/admin) and WeChat endpoint (/wechat): each exists only when its token is set.
ADMIN_TOKEN_ENV = "POLICY_ASSISTANT_ADMIN_TOKEN"
WECHAT_TOKEN_ENV = "POLICY_ASSISTANT_WECHAT_TOKEN"


@dataclass(frozen=True)
class Rate:
    """At most `requests` per `period` seconds, per client."""

    requests: int
    period: float

    def __post_init__(self) -> None:
        if self.requests < 1 or not self.period > 0:
            raise ValueError(f"无效的频率限制 {self.requests}/{self.period}s")

    def __str__(self) -> str:
        return f"{self.requests}/{self.period:g}s"


def parse_rate(text: str) -> Rate | None:
    """ "30/min", "5/s", "100/hour", "10/30s" → Rate; "0", "off", "none" → None (no limit)."""
    value = text.strip().lower()
    if value in ("0", "off", "none", "false", "no"):
        return None
    m = _RATE_RE.fullmatch(value)
    if not m or not m.group(3) or m.group(3) not in _UNITS:
        raise ValueError(f"{RATE_LIMIT_ENV}={text!r} 无法识别,应写成 30/min、5/s、100/hour 或 0(关闭)")
    requests, multiple, unit = int(m.group(1)), m.group(2), m.group(3)
    if requests == 0:
        return None
    return Rate(requests, (int(multiple) if multiple else 1) * _UNITS[unit])


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated IPs or CIDRs ("10.0.0.1, 192.168.0.0/16, ::1")."""
    networks: list[IPNetwork] = []
    bad: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            bad.append(item)
    if bad:
        raise ValueError(f"{TRUSTED_PROXIES_ENV} 中的 {', '.join(map(repr, bad))} 不是 IP 地址或网段")
    return tuple(networks)


@dataclass(frozen=True)
class WebSettings:
    data_dir: Path = field(default_factory=default_data_dir)
    rate_limit: Rate | None = Rate(30, 60.0)  # on POST /api/ask, per client
    trusted_proxies: tuple[IPNetwork, ...] = ()
    max_body_bytes: int = MAX_BODY_BYTES
    question_log: bool = True
    # Questions per worker: answered at once, and waiting (beyond that: 503 + Retry-After).
    max_active_questions: int = 8
    max_queued_questions: int = 100
    question_queue_timeout: float = 10.0
    # Questions older than this are deleted by the server itself; the privacy notice states it.
    retention_days: int = DEFAULT_RETENTION_DAYS
    # Tokens are secrets: kept out of repr() so a logged settings object never shows them.
    admin_token: str | None = field(default=None, repr=False)
    wechat_token: str | None = field(default=None, repr=False)
    # Seconds a WeChat question may take before a lexical-only answer is sent instead (WeChat
    # drops a reply that takes more than 5 s and retries the message).
    wechat_budget: float = 4.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        env = os.environ if environ is None else environ
        try:
            rate = parse_rate(env.get(RATE_LIMIT_ENV, "").strip() or DEFAULT_RATE_LIMIT)
        except ValueError as exc:
            log.error("%s;改用默认值 %s", exc, DEFAULT_RATE_LIMIT)
            rate = parse_rate(DEFAULT_RATE_LIMIT)
        try:
            proxies = parse_networks(env.get(TRUSTED_PROXIES_ENV, ""))
        except ValueError as exc:
            # Trusting nothing is the safe reading: X-Forwarded-For is then ignored entirely.
            log.error("%s;不信任任何代理(忽略 X-Forwarded-For)", exc)
            proxies = ()
        data = env.get(DATA_DIR_ENV, "").strip()
        data_dir = Path(data).expanduser() if data else default_data_dir()
        return cls(
            data_dir=data_dir,
            rate_limit=rate,
            trusted_proxies=proxies,
            retention_days=parse_retention(env.get(RETENTION_ENV, "")),
            max_active_questions=_positive_int(env, MAX_ACTIVE_ENV, cls.max_active_questions),
            max_queued_questions=_positive_int(env, MAX_QUEUED_ENV, cls.max_queued_questions),
            admin_token=_token(env, ADMIN_TOKEN_ENV, 16),
            wechat_token=_token(env, WECHAT_TOKEN_ENV, 3),
        )


def _token(env: Mapping[str, str], name: str, min_length: int) -> str | None:
    """A configured secret, or None (feature off). Too short → off, logged (without the value)."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if len(raw) < min_length or not raw.isascii() or not raw.isprintable():
        log.error("%s 应为至少 %d 个可打印 ASCII 字符;该功能保持关闭", name, min_length)
        return None
    return raw


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        log.error("%s=%r 应为 1–100000 的整数;改用默认值 %d", name, raw, default)
        return default
    return int(raw)


def parse_retention(text: str) -> int:
    """Days to keep questions: a whole number from 1 to 3650; anything else → the default, logged."""
    text = text.strip()
    if not text:
        return DEFAULT_RETENTION_DAYS
    if text.isdigit() and 1 <= int(text) <= 3650:
        return int(text)
    log.error("%s=%r 应为 1–3650 的整数(天);改用默认值 %d", RETENTION_ENV, text, DEFAULT_RETENTION_DAYS)
    return DEFAULT_RETENTION_DAYS


__all__ = [
    "ADMIN_TOKEN_ENV",
    "WECHAT_TOKEN_ENV",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETENTION_DAYS",
    "RETENTION_ENV",
    "parse_retention",
    "MAX_BODY_BYTES",
    "RATE_LIMIT_ENV",
    "TRUSTED_PROXIES_ENV",
    "Rate",
    "WebSettings",
    "parse_networks",
    "parse_rate",
]
