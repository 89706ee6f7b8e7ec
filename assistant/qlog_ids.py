"""Identifiers the question log keeps: answer ids it makes, session ids it is sent, and the key it hashes them with.

Both kinds of id travel to and from users, so neither may ever carry or resemble personal data: answer ids are made in
an alphabet with no run of digits, and a session id is accepted only in the shape of an opaque random token that the
redactor finds nothing in; what is stored is its HMAC under the data directory's key (`session_key`).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path

from assistant.redact import redact
from assistant.store import QuestionLogError

# Session ids come from an API header, i.e. from the user. Only the shape of an opaque random
# token is accepted (16–64 characters of the base64url/uuid alphabet, not all digits, nothing the
# redactor recognises as an ID, phone or card); anything else is dropped. What is stored is never
# the value as sent but its HMAC under a key kept in the data directory: questions of one session
# still group together, and the column cannot be matched against a known id without the key.
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Answer ids are made here (new_answer_id) and handed to the asker; feedback quotes them back.
_ANSWER_ID_RE = re.compile(r"[a-z2-7]{16,64}")
SESSION_KEY_FILENAME = "session.key"


def new_answer_id() -> str:
    """A fresh opaque answer id: 120 random bits in lower-case base32.

    Base32's digits are 2–7 only, so no run of them can look like a mobile, ID or card number
    to the PII scanner, however long.
    """
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()


def acceptable_answer_id(answer_id: object) -> bool:
    return isinstance(answer_id, str) and _ANSWER_ID_RE.fullmatch(answer_id) is not None


def acceptable_session_id(session_id: object) -> bool:
    """True for an opaque random token; False for anything that could be a person's data."""
    if not isinstance(session_id, str) or not _SESSION_ID_RE.fullmatch(session_id):
        return False
    if session_id.isdigit() or redact(session_id).found:
        return False
    # Dashes and underscores only separate: 110105-19491231-002X is an ID whatever its alphabet.
    return not redact(session_id.replace("-", " ").replace("_", " ")).found


def session_key(data_dir: Path) -> bytes:
    """The data directory's HMAC key for session ids: 32 random bytes, created once, mode 0600.

    Replicas sharing one database should share this file too (one data volume, or the same key
    file copied to each), or one session's questions hash differently on each replica.
    """
    path = data_dir / SESSION_KEY_FILENAME
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = b""
    else:
        if len(key) < 32:  # truncated or hand-made: refuse rather than hash with a weak key
            raise QuestionLogError(f"会话密钥文件 {path} 已损坏(少于 32 字节);请删除后重启,将生成新密钥")
        return key
    # Written to a private temporary file and linked into place: a process starting at the same
    # moment either finds no file or the whole key, never a half-written one; the loser of the
    # race reads the winner's key.
    tmp = data_dir / f".{SESSION_KEY_FILENAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


__all__ = ["SESSION_KEY_FILENAME", "acceptable_answer_id", "acceptable_session_id", "new_answer_id", "session_key"]
