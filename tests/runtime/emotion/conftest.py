import pytest

from eai_avatar.runtime.emotion import SentenceEmbedder


@pytest.fixture(scope="session")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder(threads=2)
