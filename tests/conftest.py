"""Shared fixtures: the real Qwen2.5 tokenizer (built offline), a tiny random Qwen2 model
saved to disk, and the shared data folder (tests that need it skip with a reason when absent)."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

from benchkit import paths

REPO = Path(__file__).resolve().parents[1]


def load_bench(name: str):
    """A script of bench/ as a module (bench/ holds scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def shared_data_dir() -> Path | None:
    """The shared data folder (benchkit.paths resolves it, for the bench scripts too), when present."""
    path = paths.shared_data_dir()
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent (set MATHGRPO_SHARED_DATA to its location)")
    return path


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from mathgrpo.testing import build_qwen25_tokenizer

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
    from mathgrpo.testing import build_random_qwen2

    path = tmp_path_factory.mktemp("tiny-qwen2")
    build_random_qwen2(save_dir=path, seed=0, **TINY_QWEN2)
    return path


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # CI machines have 2 cores; more threads than cores only adds contention.
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))


# Variables a user's shell may export (clusters often set the offline ones) that change which path
# the code takes. Every test starts without them; a test that needs one sets it itself.
HUB_ENVIRONMENT = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_TOKEN")


@pytest.fixture(autouse=True)
def _hub_environment_controlled(monkeypatch):
    for name in HUB_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def eval_dir(shared_data) -> Path:
    path = shared_data / "eval"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def length_reward(opts):
    """A reward that varies with completion length. A random model is never right, so accuracy
    and format are 0 for every sample and GRPO's advantages vanish; this gives tests a signal.
    Tests register it through the same registry a user would extend (``REWARDS["length"]``)."""

    def length(completions, **kwargs):
        return [min(len(c), 40) / 40.0 for c in completions]

    return length


@pytest.fixture
def with_length_reward(monkeypatch):
    from mathgrpo.train.rewards import REWARDS

    monkeypatch.setitem(REWARDS, "length", length_reward)


def tiny_run_argv(model_dir, out, *extra) -> list[str]:
    """`mathgrpo train` flags for a 2-step GRPO run of the tiny model on generated problems;
    ``extra`` flags come last, so they override these (argparse keeps the last occurrence)."""
    return [
        "--model_name_or_path",
        str(model_dir),
        "--dataset_name",
        "generated:arithmetic?n=16&seed=0",
        "--template",
        "think_boxed",
        "--reward_funcs",
        "accuracy",
        "format",
        "length",
        "--reward_weights",
        "1.0",
        "0.5",
        "1.0",
        "--max_prompt_length",
        "128",
        "--max_completion_length",
        "8",
        "--num_generations",
        "2",
        "--per_device_train_batch_size",
        "4",
        "--gradient_accumulation_steps",
        "1",
        "--learning_rate",
        "1e-3",
        "--max_steps",
        "2",
        "--save_steps",
        "1",
        "--logging_steps",
        "1",
        "--output_dir",
        str(out),
        "--report_to",
        "none",
        "--use_cpu",
        "true",
        "--dtype",
        "float32",
        "--seed",
        "0",
        *extra,
    ]


def free_port() -> int:
    """A free local TCP port (for a launch's rendezvous)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate_launch(config: str, script, *args: str, processes: int = 2) -> list[str]:
    """The command a user runs: ``accelerate launch --config_file recipes/accelerate/CONFIG.yaml`` with
    ``processes`` processes on a free local port, then ``script`` and its arguments (the launcher
    config unchanged; CPU and gloo come from the caller's environment and ``--use_cpu true``)."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO / "recipes" / "accelerate" / f"{config}.yaml"),
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--main_process_port",
        str(free_port()),
        str(script),
        *args,
    ]


TINY_RUN_TOKEN = "hf_SECRETtokenNEVERwritten123"


@pytest.fixture(scope="session")
def tiny_run(tiny_qwen_dir, tmp_path_factory):
    """The 2-step run of ``tiny_run_argv`` (length reward on, a hub token given), trained once per session
    for every test that would train this same run again. Read it; copy the folder before changing it."""
    import shutil
    from types import SimpleNamespace

    from mathgrpo.train.config import parse_train_args
    from mathgrpo.train.rewards import REWARDS
    from mathgrpo.train.run import run

    out = tmp_path_factory.mktemp("tiny-run") / "run"
    token = os.environ.pop("HF_TOKEN", None)  # train moves the recipe's token here; leave the session as it was
    REWARDS["length"] = length_reward
    try:
        trainer = run(*parse_train_args(tiny_run_argv(tiny_qwen_dir, out, "--hub_token", TINY_RUN_TOKEN)))
    finally:
        REWARDS.pop("length", None)
        os.environ.pop("HF_TOKEN", None)
        if token is not None:
            os.environ["HF_TOKEN"] = token

    def copy(dest: Path) -> Path:
        shutil.copytree(out, dest, symlinks=True)
        return dest

    return SimpleNamespace(out=out, trainer=trainer, copy=copy)


class RecordingHub:
    """Stands in for ``huggingface_hub.HfApi`` (no network here): records what each upload would
    send, filtered exactly as ``upload_folder`` filters, with a hash of each file at upload time."""

    uploads: list[dict] = []

    def __init__(self, *args, **kwargs):
        pass

    def create_repo(self, repo_id, private=None, exist_ok=False, **kwargs):
        from types import SimpleNamespace

        return SimpleNamespace(repo_id=repo_id if "/" in repo_id else f"someone/{repo_id}")

    def upload_folder(self, repo_id, folder_path, allow_patterns=None, ignore_patterns=None, **kwargs):
        import hashlib

        from huggingface_hub.utils import filter_repo_objects  # the filter upload_folder applies

        root = Path(folder_path)
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
        sent = sorted(filter_repo_objects(files, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns))
        digests = {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in sent}
        type(self).uploads.append(dict(repo_id=repo_id, files=sent, digests=digests, **kwargs))


@pytest.fixture
def recording_hub(monkeypatch):
    """Every ``HfApi()`` made during the test is a RecordingHub; returns the list of uploads."""
    import huggingface_hub

    RecordingHub.uploads = []
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    return RecordingHub.uploads


def reference_s() -> float:
    """Wall time of a fixed piece of pure-Python work, measured now: on a loaded machine it slows
    down as this test process does."""
    start = time.perf_counter()
    sum(i * i for i in range(300_000))
    return time.perf_counter() - start


def within(seconds: float) -> float:
    """The grader's bound plus this process's own scheduling delay, scaled by the reference work
    (about 0.5 s on a quiet 2-core machine, more when the machine is loaded)."""
    return seconds + 20 * reference_s()


def mask_to_first_stop(completion_ids, stops) -> "torch.Tensor":  # noqa: F821
    """The loss mask a completion should have, computed here rather than taken from TRL: 1 up to and
    including the first stop token of each row (padding is a stop token too), 0 after."""
    import torch

    rows = []
    for ids in completion_ids.tolist():
        first = next((i for i, t in enumerate(ids) if t in stops), len(ids) - 1)
        rows.append([1] * (first + 1) + [0] * (len(ids) - first - 1))
    return torch.tensor(rows)
