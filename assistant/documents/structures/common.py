"""What every structure shares: the parse context and result, and small text helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import CorpusError
from ..model import Chunk

Line = tuple[int, str]  # (1-based line number in the source, the line stripped)


class StructureError(CorpusError):
    """The text does not have the structure it was parsed as (or is damaged): file, line, reason."""

    def __init__(self, line: int | None, reason: str, path: str = "") -> None:
        super().__init__(path, line, reason)


@dataclass(frozen=True)
class Context:
    doc_id: str
    path: str
    prefix: str  # "" for the primary document, "<doc-id>:" for the others

    def cid(self, local: str) -> str:
        return f"{self.prefix}{local}"


@dataclass(frozen=True)
class Parsed:
    structure: str
    chunks: tuple[Chunk, ...]
    title: str = ""  # "" when the structure cannot tell; metadata.py then reads it from the text
    fields: tuple[tuple[str, str], ...] = ()  # a metadata table the text states
    warnings: tuple[str, ...] = ()


# A short heading ends at the first sentence or clause mark; beyond this length it is a sentence, not a heading.
_CLAUSE_RE = re.compile(r"[。；;：:，,！？!?]")
HEADING_MAX = 24


def short_title(text: str) -> str:
    head = _CLAUSE_RE.split(text, maxsplit=1)[0].strip()
    return head if len(head) <= HEADING_MAX else head[: HEADING_MAX - 1] + "…"


def block_end(lines: list[Line], start: int, is_heading) -> int:  # type: ignore[no-untyped-def]
    """Index after the block that starts at `start`: its continuation lines run up to the next heading."""
    j = start + 1
    while j < len(lines) and not is_heading(lines[j][1]):
        j += 1
    return j
