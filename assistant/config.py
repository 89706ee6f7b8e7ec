"""Every POLICY_ASSISTANT_* environment variable, read by one pydantic-settings model.

The library (corpus, index, embedder, data directory, question-log database) and the web edge
(rate limit, trusted proxies, question lane, retention, tokens) read the same `Settings`, so one
process never sees two readings of its environment.

A malformed value is logged (in Chinese, for the operator) and replaced by the *safe* default —
rate limit on, no proxy trusted, feature off — instead of stopping the process: a worker that dies
at start-up is restarted by its process manager and dies again, a crash loop that helps nobody.
That is why the validators below catch bad input themselves rather than letting pydantic raise.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import limits
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger("policy_assistant.web")

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "POLICY_ASSISTANT_"
RATE_LIMIT_ENV = "POLICY_ASSISTANT_RATE_LIMIT"
TRUSTED_PROXIES_ENV = "POLICY_ASSISTANT_TRUSTED_PROXIES"
MAX_ACTIVE_ENV = "POLICY_ASSISTANT_MAX_ACTIVE_QUESTIONS"
MAX_QUEUED_ENV = "POLICY_ASSISTANT_MAX_QUEUED_QUESTIONS"
RETENTION_ENV = "POLICY_ASSISTANT_RETENTION_DAYS"
ADMIN_TOKEN_ENV = "POLICY_ASSISTANT_ADMIN_TOKEN"
WECHAT_TOKEN_ENV = "POLICY_ASSISTANT_WECHAT_TOKEN"
# 安全模式/兼容模式: the account's EncodingAESKey (43 characters) and its AppID (checked inside
# every decrypted message). Both or neither; without them only 明文模式 is accepted.
WECHAT_AES_KEY_ENV = "POLICY_ASSISTANT_WECHAT_AES_KEY"
WECHAT_APPID_ENV = "POLICY_ASSISTANT_WECHAT_APPID"
DATA_DIR_ENV = "POLICY_ASSISTANT_DATA"
DATABASE_URL_ENV = "POLICY_ASSISTANT_DATABASE_URL"
DEFAULT_RATE_LIMIT = "30/min"
DEFAULT_RETENTION_DAYS = 180

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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


# The short unit names this project has always accepted ("30/min", "10/30s"); `limits` spells
# them out, and does all the rest of the parsing.
_SHORT_UNITS = re.compile(r"(?<=[\d/\s])(s|sec|secs|m|min|mins|h|hr|hrs)$")
_LONG_UNITS = {"s": "second", "sec": "second", "secs": "second", "m": "minute", "min": "minute",
               "mins": "minute", "h": "hour", "hr": "hour", "hrs": "hour"}  # fmt: skip


def parse_rate(text: str) -> Rate | None:
    """ "30/min", "5/s", "100/hour", "10/30s", "30 per minute" → Rate; "0", "off", "none" → None."""
    value = text.strip().lower()
    if value in ("0", "off", "none", "false", "no"):
        return None
    spelled = _SHORT_UNITS.sub(lambda m: _LONG_UNITS[m.group(1)], value)
    try:
        item = limits.parse(spelled)
        if item.GRANULARITY.name not in ("second", "minute", "hour"):
            raise ValueError(item.GRANULARITY.name)
    except ValueError:
        raise ValueError(f"{RATE_LIMIT_ENV}={text!r} 无法识别,应写成 30/min、5/s、100/hour 或 0(关闭)") from None
    if item.amount == 0:
        return None
    return Rate(item.amount, float(item.get_expiry()))


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


def parse_retention(text: str) -> int:
    """Days to keep questions: a whole number from 1 to 3650; anything else → the default, logged."""
    text = text.strip()
    if not text:
        return DEFAULT_RETENTION_DAYS
    if text.isdigit() and 1 <= int(text) <= 3650:
        return int(text)
    log.error("%s=%r 应为 1–3650 的整数(天);改用默认值 %d", RETENTION_ENV, text, DEFAULT_RETENTION_DAYS)
    return DEFAULT_RETENTION_DAYS


# `Settings.from_env(mapping)` reads a given mapping instead of os.environ (tests, subprocesses).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("policy_assistant_environ", default=None)


class _Environment(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return super()._load_env_vars()
        from pydantic_settings.sources.utils import parse_env_vars

        return parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _env(name: str) -> Any:
    # The variable's full name; the field name stays usable in code and in Settings(...).
    return AliasChoices(name, name.removeprefix(PREFIX).lower())


def _positive(name: str, default: int) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100_000:
            return value
        raw = str(value).strip()
        if raw.isdigit() and 1 <= int(raw) <= 100_000:
            return int(raw)
        log.error("%s=%r 应为 1–100000 的整数;改用默认值 %d", name, raw, default)
        return default

    return check


class Settings(BaseSettings):
    """The whole configuration, one field per POLICY_ASSISTANT_* variable (see docs/OPERATIONS.md)."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,  # VAR= means "not set", as it always has
        frozen=True,
        populate_by_name=True,
        extra="ignore",
        case_sensitive=False,
    )

    # -- the library ---------------------------------------------------------------------------
    corpus_dir: Path = Field(default=REPO_ROOT / "corpus", validation_alias=_env("POLICY_ASSISTANT_CORPUS"))
    index_dir: Path = Field(default=REPO_ROOT / "index", validation_alias=_env("POLICY_ASSISTANT_INDEX"))
    embedder: str = Field(default="e5", validation_alias=_env("POLICY_ASSISTANT_EMBEDDER"))
    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "var", validation_alias=_env(DATA_DIR_ENV))
    # None: the SQLite file in the data directory. Holds a password: kept out of repr().
    database_url: str | None = Field(default=None, repr=False, validation_alias=_env(DATABASE_URL_ENV))
    # Question-log entries waiting for the writer thread, per process; beyond that they are dropped.
    log_queue: int = Field(default=10_000, validation_alias=_env("POLICY_ASSISTANT_LOG_QUEUE"))

    # -- the web edge --------------------------------------------------------------------------
    rate_limit: Annotated[Rate | None, NoDecode] = Field(default=Rate(30, 60.0), validation_alias=_env(RATE_LIMIT_ENV))
    # Where the per-client counters live (a `limits` storage URI). memory:// is per process;
    # replicas that must share one exact limit point at redis://… or memcached://… instead.
    rate_limit_storage: str = Field(default="memory://", validation_alias=_env("POLICY_ASSISTANT_RATE_LIMIT_STORAGE"))
    trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = Field(
        default=(), validation_alias=_env(TRUSTED_PROXIES_ENV)
    )
    max_active_questions: int = Field(default=8, validation_alias=_env(MAX_ACTIVE_ENV))
    max_queued_questions: int = Field(default=100, validation_alias=_env(MAX_QUEUED_ENV))
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, validation_alias=_env(RETENTION_ENV))
    admin_token: str | None = Field(default=None, repr=False, validation_alias=_env(ADMIN_TOKEN_ENV))
    wechat_token: str | None = Field(default=None, repr=False, validation_alias=_env(WECHAT_TOKEN_ENV))
    wechat_aes_key: str | None = Field(default=None, repr=False, validation_alias=_env(WECHAT_AES_KEY_ENV))
    wechat_appid: str | None = Field(default=None, validation_alias=_env(WECHAT_APPID_ENV))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment only: no .env file is read behind the operator's back.
        return init_settings, _Environment(settings_cls)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `environ` (default: os.environ) once."""
        with _reading(environ):
            return cls()

    @field_validator("data_dir", "corpus_dir", "index_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> Rate | None:
        if value is None or isinstance(value, Rate):
            return value
        try:
            return parse_rate(str(value))
        except ValueError as exc:
            log.error("%s;改用默认值 %s", exc, DEFAULT_RATE_LIMIT)
            return parse_rate(DEFAULT_RATE_LIMIT)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> tuple[IPNetwork, ...]:
        if not isinstance(value, str):
            return tuple(value)
        try:
            return parse_networks(value)
        except ValueError as exc:
            # Trusting nothing is the safe reading: X-Forwarded-For is then ignored entirely.
            log.error("%s;不信任任何代理(忽略 X-Forwarded-For)", exc)
            return ()

    @field_validator("max_active_questions", mode="before")
    @classmethod
    def _active(cls, value: Any) -> int:
        return _positive(MAX_ACTIVE_ENV, 8)(value)  # type: ignore[no-any-return]

    @field_validator("max_queued_questions", mode="before")
    @classmethod
    def _queued(cls, value: Any) -> int:
        return _positive(MAX_QUEUED_ENV, 100)(value)  # type: ignore[no-any-return]

    @field_validator("log_queue", mode="before")
    @classmethod
    def _log_queue(cls, value: Any) -> int:
        return _positive("POLICY_ASSISTANT_LOG_QUEUE", 10_000)(value)  # type: ignore[no-any-return]

    @field_validator("retention_days", mode="before")
    @classmethod
    def _retention(cls, value: Any) -> int:
        return value if isinstance(value, int) else parse_retention(str(value))

    @field_validator("admin_token", mode="before")
    @classmethod
    def _admin(cls, value: Any) -> str | None:
        return _token(ADMIN_TOKEN_ENV, value, 16)

    @field_validator("wechat_token", mode="before")
    @classmethod
    def _wechat(cls, value: Any) -> str | None:
        return _token(WECHAT_TOKEN_ENV, value, 3)

    @field_validator("wechat_aes_key", mode="before")
    @classmethod
    def _aes_key(cls, value: Any) -> str | None:
        raw = "" if value is None else str(value).strip()
        if raw and not re.fullmatch(r"[A-Za-z0-9+/]{43}", raw):
            log.error("%s 应为公众号后台生成的 43 位 EncodingAESKey;安全模式保持关闭", WECHAT_AES_KEY_ENV)
            return None
        return raw or None

    @field_validator("wechat_appid", mode="before")
    @classmethod
    def _appid(cls, value: Any) -> str | None:
        raw = "" if value is None else str(value).strip()
        return raw if raw and raw.isascii() and raw.isprintable() else None

    @field_validator("database_url", mode="before")
    @classmethod
    def _database(cls, value: Any) -> str | None:
        text = "" if value is None else str(value).strip()
        return text or None


def _token(name: str, value: Any, min_length: int) -> str | None:
    """A configured secret, or None (feature off). Too short → off, logged (without the value)."""
    raw = "" if value is None else str(value).strip()
    if not raw:
        return None
    if len(raw) < min_length or not raw.isascii() or not raw.isprintable():
        log.error("%s 应为至少 %d 个可打印 ASCII 字符;该功能保持关闭", name, min_length)
        return None
    return raw


@contextmanager
def _reading(environ: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(None if environ is None else dict(environ))
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def default_data_dir() -> Path:
    """`$POLICY_ASSISTANT_DATA`, or `var/` under the current working directory."""
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.cwd() / "var"


__all__ = [
    "ADMIN_TOKEN_ENV",
    "DATABASE_URL_ENV",
    "DATA_DIR_ENV",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETENTION_DAYS",
    "MAX_ACTIVE_ENV",
    "MAX_QUEUED_ENV",
    "RATE_LIMIT_ENV",
    "RETENTION_ENV",
    "TRUSTED_PROXIES_ENV",
    "WECHAT_AES_KEY_ENV",
    "WECHAT_APPID_ENV",
    "WECHAT_TOKEN_ENV",
    "IPNetwork",
    "Rate",
    "Settings",
    "default_data_dir",
    "parse_networks",
    "parse_rate",
    "parse_retention",
]
