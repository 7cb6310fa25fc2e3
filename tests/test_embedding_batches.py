"""The embedder's batches: bounded by count and by padded tokens, and a text's vector does not
depend on which batch it was embedded in (real int8 MiniLM)."""

from __future__ import annotations

import numpy as np

from knowledge.testing import shared_onnx_embedder
from models.embeddings import token_batches


def test_batches_respect_count_and_padded_tokens() -> None:
    lengths = [10, 10, 20, 30, 300, 400, 500, 600]
    batches = token_batches(lengths, max_count=3, max_tokens=100)
    assert [list(b) for b in batches] == [[0, 1, 2], [3], [4], [5], [6], [7]]
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * lengths[batch[-1]] <= 100
    # Every index once, in order.
    assert [i for b in batches for i in b] == list(range(len(lengths)))


def test_short_texts_still_go_by_count() -> None:
    assert [len(b) for b in token_batches([12] * 70, max_count=32)] == [32, 32, 6]
    assert token_batches([], max_count=32) == []


def test_a_vector_does_not_depend_on_its_batch() -> None:
    embedder = shared_onnx_embedder()
    long = "The committee reviewed the quarterly budget and the travel policy in detail. " * 12
    texts = ["parental leave", long, "How many days of annual leave do I get?", long[:200], "vpn"]
    together = embedder.embed_array(texts)
    alone = np.vstack([embedder.embed_array([text]) for text in texts])
    assert together.shape == (5, embedder.dimension)
    assert np.allclose(together, alone, atol=1e-4)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_one_thread_gives_the_vectors_of_two() -> None:
    """An ingest-only session with one thread (less CPU) would store the same vectors."""
    from models.embeddings import MiniLMSettings, OnnxMiniLMEmbedder

    one = OnnxMiniLMEmbedder(MiniLMSettings(threads=1))
    assert one._session.get_session_options().intra_op_num_threads == 1
    two = OnnxMiniLMEmbedder(MiniLMSettings(threads=2))
    assert two._session.get_session_options().intra_op_num_threads == 2
    long = "Our travel policy covers flights, hotels and the per diem for every office. " * 10
    texts = ["parental leave", long, "Who approves expenses above 500 euros?", long[:300]]
    assert np.allclose(one.embed_array(texts), two.embed_array(texts), atol=1e-6)
