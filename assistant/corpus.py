"""The corpus as the rest of the pipeline imports it: the library's records and `load_corpus`.

Reading (assistant/documents/readers/) and parsing by structure (assistant/documents/structures/) live in
assistant/documents/; the primary document's house style is the 公文 structure there. This module re-exports what
retrieve, answer, web and the tests import from `assistant.corpus`.
"""

from __future__ import annotations

from .documents.library import corpus_files, fingerprint, load_corpus, parse_document, read_document
from .documents.model import Chunk, ChunkKind, Corpus, Deadline, Document, DocumentMeta, LoadFailure
from .documents.numerals import cn_to_int

__all__ = [
    "Chunk",
    "ChunkKind",
    "Corpus",
    "Deadline",
    "Document",
    "DocumentMeta",
    "LoadFailure",
    "cn_to_int",
    "corpus_files",
    "fingerprint",
    "load_corpus",
    "parse_document",
    "read_document",
]
