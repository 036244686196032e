"""Shared fixtures: the real Qwen2.5 tokenizer (built offline), a tiny random Qwen2 model
saved to disk, and the shared data folder (tests that need it skip with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``$MATHGRPO_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    env = os.environ.get("MATHGRPO_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent (set MATHGRPO_SHARED_DATA to its location)")
    return path


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from mathgrpo.models import build_qwen25_tokenizer

    return build_qwen25_tokenizer()


# Small enough to train in seconds on 2 CPU cores, with Qwen2.5's real vocabulary.
TINY_QWEN2 = dict(
    num_hidden_layers=2,
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
)


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory) -> Path:
    from mathgrpo.models import build_random_qwen2

    path = tmp_path_factory.mktemp("tiny-qwen2")
    build_random_qwen2(save_dir=path, seed=0, **TINY_QWEN2)
    return path


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # CI machines have 2 cores; more threads than cores only adds contention.
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
