"""Shared fixtures. The model-free "chars" embedder keeps tests fast; real-model tests are marked `model`."""

from __future__ import annotations

import pytest

from assistant import Assistant


@pytest.fixture(scope="session")
def chars_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The repo's corpus with a throwaway index built by the character-count embedder."""
    return Assistant.load(index_dir=tmp_path_factory.mktemp("index-chars"), embedder="chars")
