"""Domain exceptions. The library raises these; the edges (CLI, HTTP) translate them.

Messages are user-facing, so they are in Simplified Chinese and name the file/line or the
setting to fix; engineers get the exception class and attributes.
"""

from __future__ import annotations


class PolicyAssistantError(Exception):
    """Base class: anything the edges may show to a user as one readable line."""


class CorpusError(PolicyAssistantError):
    """A corpus file cannot be parsed. Always names the file and, where known, the line."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"语料解析失败 {where}: {reason}")


class IndexProblem(PolicyAssistantError):
    """The built index is missing, stale, corrupt or made with another embedder."""


class IndexMissing(IndexProblem):
    pass


class IndexStale(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class EmbedderMismatch(IndexProblem):
    pass


class EmbedderError(PolicyAssistantError):
    """The embedding backend cannot be created or failed while encoding."""


class InvalidQuestion(PolicyAssistantError):
    """The question is empty or too long; the edges map this to a 4xx / exit code 2."""


class UnknownChunk(PolicyAssistantError):
    def __init__(self, chunk_id: str) -> None:
        self.chunk_id = chunk_id
        super().__init__(f"没有编号为 {chunk_id!r} 的条目")


class UnknownGroup(UnknownChunk):
    """A target group that corpus/lexicon/groups.tsv does not name (a 404 at the web edge, like a chunk)."""

    def __init__(self, name: str) -> None:
        PolicyAssistantError.__init__(self, f"没有名为 {name!r} 的群体")
        self.chunk_id = name
