"""The WordLlama embedder: weights from its wheel, unit vectors, and no change to the caller's logging."""

import logging
import math
import subprocess
import sys

from coursegen.adapters.offline import WordLlamaEmbedder


def test_embeddings_are_unit_vectors_of_the_declared_dimension(embedder):
    vectors = embedder.embed(["discounted cash flow", "terminal value"])
    assert [len(v) for v in vectors] == [WordLlamaEmbedder.dimension] * 2
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-4) for v in vectors)


def test_loading_the_model_leaves_the_applications_logging_as_it_was():
    # wordllama configures the root logger when imported; in a fresh process, so the import is the first.
    probe = (
        "import logging; from coursegen.adapters.offline import WordLlamaEmbedder; WordLlamaEmbedder().embed(['x']); "
        "root = logging.getLogger(); print(logging.getLevelName(root.level), len(root.handlers))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [logging.getLevelName(logging.WARNING), "0"]
