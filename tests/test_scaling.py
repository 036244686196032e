"""Scaling pieces: the accelerate launch configs, the recipes' batch arithmetic, a real
two-process GRPO run under ``accelerate launch`` on CPU, LoRA through peft, and the GPU
benchmark's own code path on a tiny model (CPU)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mathgrpo.files import RUN_FILE
from mathgrpo.train.config import parse_train_args
from mathgrpo.train.rewards import REWARDS
from mathgrpo.train.run import check_context, run

from conftest import accelerate_launch, length_reward, load_bench, tiny_run_argv

REPO = Path(__file__).resolve().parents[1]
QWEN = REPO / "recipes" / "qwen2.5-math-1.5b"
ACCEL = REPO / "recipes" / "accelerate"
BENCH = REPO / "bench"

# The world each recipe's batch is written for (its header comment): training processes.
PROCESSES = {"drgrpo": 8, "drgrpo-vllm": 1, "drgrpo-vllm-server": 4, "dapo": 8, "dapo-vllm": 1, "dapo-vllm-server": 4}


def recipe(name):
    return parse_train_args(["--config", str(QWEN / f"{name}.yaml"), "--use_cpu", "true"])


# ----------------------------------------------------------------------------- configs


def test_accelerate_configs_load_with_accelerate():
    from accelerate.commands.config.config_args import load_config_from_file

    ddp, z2, z3, off = (
        load_config_from_file(str(ACCEL / f"{n}.yaml")) for n in ("ddp", "zero2", "zero3", "zero2-offload")
    )
    assert off.deepspeed_config["zero_stage"] == 2 and off.deepspeed_config["offload_optimizer_device"] == "cpu"
    assert ddp.distributed_type == "MULTI_GPU" and ddp.mixed_precision == "bf16"
    assert z2.distributed_type == "DEEPSPEED" and z2.deepspeed_config["zero_stage"] == 2
    assert z3.distributed_type == "DEEPSPEED" and z3.deepspeed_config["zero_stage"] == 3
    assert z3.deepspeed_config["zero3_init_flag"] is True


@pytest.mark.parametrize("name", [n for n in PROCESSES if n.startswith("drgrpo")])
def test_drgrpo_recipes_are_oat_zero(name):
    s, a, m = recipe(name)
    assert m.model_name_or_path == "Qwen/Qwen2.5-Math-1.5B" and s.template == "qwen_math"
    assert (a.loss_type, a.scale_rewards, a.beta) == ("dr_grpo", "none", 0.0)
    assert (a.num_generations, a.temperature, a.max_completion_length) == (8, 1.0, 3000)
    assert (a.learning_rate, a.lr_scheduler_type, a.warmup_steps) == (1e-6, "constant", 0)
    check_context(s, a, 4096)  # prompt limit + 3,000 fits Qwen2.5-Math's 4,096 context
    p = PROCESSES[name]
    rollout = a.per_device_train_batch_size * a.steps_per_generation * p
    update = a.per_device_train_batch_size * a.gradient_accumulation_steps * p
    assert rollout == update == 128 * 8  # 128 prompts x 8 samples, one optimizer step each


@pytest.mark.parametrize("name", [n for n in PROCESSES if n.startswith("dapo")])
def test_dapo_recipes_are_dapo(name):
    s, a, _ = recipe(name)
    assert (a.loss_type, a.epsilon, a.epsilon_high, a.beta) == ("dapo", 0.2, 0.28, 0.0)
    assert s.dynamic_sampling and s.max_resample_rounds == 10
    assert s.dynamic_sampling_oversample == (3.0 if "vllm" in name else 1.0)
    from mathgrpo.train.dynamic import check_dynamic_sampling

    check_dynamic_sampling(a)  # whole groups on each process
    assert a.mask_truncated_completions is True
    assert s.reward_funcs == ["accuracy", "soft_overlong"] and len(a.reward_weights) == 2
    assert 0 < s.overlong_buffer < a.max_completion_length
    check_context(s, a, 4096)
    p = PROCESSES[name]
    rollout = a.per_device_train_batch_size * a.steps_per_generation * p
    update = a.per_device_train_batch_size * a.gradient_accumulation_steps * p
    assert rollout == 64 * a.num_generations == 1024 and update == 64
    assert rollout // update == 16  # DAPO's 16 updates per rollout


@pytest.mark.parametrize("name", [n for n in PROCESSES if "vllm" in n])
def test_vllm_variants_fit_prompt_and_completion(name):
    s, a, _ = recipe(name)
    assert a.use_vllm and a.vllm_mode == ("server" if name.endswith("server") else "colocate")
    assert s.max_prompt_length + a.max_completion_length <= a.vllm_max_model_length <= 4096
    check_context(s, a, 4096)


# ----------------------------------------------------------------------------- estimates


def test_parameter_count_matches_the_architecture_by_hand():
    from mathgrpo.testing import QWEN25_MATH_15B_CONFIG as c

    est = __import__("benchkit.gpu_estimate", fromlist=["x"])
    h, i, layers, vocab = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    kv = c["num_key_value_heads"] * h // c["num_attention_heads"]
    attention = (h * h + h) + 2 * (h * kv + kv) + h * h  # q, k, v carry biases; o does not
    per_layer = attention + 3 * h * i + 2 * h  # SwiGLU MLP, two RMSNorms
    expected = vocab * h + layers * per_layer + h  # tied embeddings counted once; final norm
    facts = est.model_facts()
    assert facts.params == expected
    assert facts.kv_bytes_per_token == layers * 2 * kv * 2


def test_which_seed_recipe_fits_24_gib():
    # The honest default (float32 weights + AdamW, 16 bytes per parameter) does not fit a 24 GB GPU;
    # the 8-bit AdamW mode (10 bytes) does. The bytes per parameter are tied to what the loader and
    # a real optimizer step allocate in tests/test_precision.py.
    est = __import__("benchkit.gpu_estimate", fromlist=["x"])
    facts = est.model_facts()
    seed, small = (est.recipe_shape(QWEN / f"{n}.yaml") for n in ("seed", "seed-24gb"))
    assert (seed.mode, small.mode) == ("fp32-master", "8bit-adamw")
    assert est.memory_estimate(facts, seed)["static"] > 24e9  # weights, gradients, AdamW alone: 24.7 GB
    assert est.memory_estimate(facts, small)["peak"] < 20 * est.GIB  # room for CUDA context and fragmentation


def test_full_length_forcing_per_backend():
    bench = load_bench("gpu_step")
    assert bench.force_full_length("vllm", [1, 2], 3000) == {"min_tokens": 3000}
    for backend in ("transformers", "continuous-batching"):
        assert bench.force_full_length(backend, [151643, 151645], 3000) == {"suppress_tokens": [151643, 151645]}


# ----------------------------------------------------------------------------- runs

WRAPPER = """
import json, os, sys
from pathlib import Path

import torch.distributed as dist
from mathgrpo.train.rewards import REWARDS

def length_reward(opts):
    # A random model never answers correctly; a length reward gives GRPO a signal (with FLAT set,
    # problems about 1 get one reward for the whole group: no signal). Each rank also notes, from
    # inside training, the process group it scores in.
    flat = bool(os.environ.get("FLAT"))
    def length(completions, **kwargs):
        rank = dist.get_rank() if dist.is_initialized() else -1
        note = {"world": dist.get_world_size() if dist.is_initialized() else 1,
                "backend": dist.get_backend() if dist.is_initialized() else None, "scored": len(completions)}
        if os.environ.get("NOTE_PROBLEMS"):
            note["problems"] = kwargs.get("problem")
        with open(Path(os.environ["RANK_NOTES"]) / f"rank-{rank}.jsonl", "a") as f:
            f.write(json.dumps(note) + "\\n")
        problems = kwargs.get("problem") or [""] * len(completions)
        return [0.5 if flat and " 1 " in p else min(len(c), 40) / 40.0 for c, p in zip(completions, problems)]
    return length

REWARDS["length"] = length_reward
if os.environ.get("DROP_ON_RANK") == os.environ.get("RANK"):
    # This rank's gold checks "time out" differently: were it to clean the data itself, it would
    # drop every gold ending in an odd digit that the other rank keeps.
    from mathgrpo.grading.checker import Grader
    Grader.gradeable = lambda self, gold: not str(gold).strip()[-1:] in "13579"
from mathgrpo.cli import main
sys.exit(main(["train", *sys.argv[1:]]))
"""


def tiny_train_args(model_dir, out, steps):
    return tiny_run_argv(
        model_dir,
        out,
        "--reward_funcs",
        "accuracy",
        "length",
        "--reward_weights",
        "1.0",
        "1.0",
        "--per_device_train_batch_size",
        "2",
        "--max_steps",
        str(steps),
        "--save_steps",
        str(steps),
    )


def launch_two(tiny_qwen_dir, tmp_path, out, extra=(), env_extra=None):
    """`accelerate launch` two CPU processes training the tiny model; returns (process, notes folder)."""
    script = tmp_path / "train_with_length.py"
    script.write_text(textwrap.dedent(WRAPPER))
    cmd = accelerate_launch("ddp", script, *tiny_train_args(tiny_qwen_dir, out, 2), *extra)
    # No GPU visible: the multi-GPU launcher (torchrun) starts two CPU processes and
    # accelerate joins them in a gloo group. (`accelerate launch --cpu` would start only one
    # process unless MPI is set up.)
    notes = tmp_path / "notes"
    notes.mkdir()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "RANK_NOTES": str(notes),
        **(env_extra or {}),
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=420, env=env, cwd=tmp_path)
    return proc, notes


@pytest.mark.slow
def test_two_cpu_processes_under_accelerate_launch(tiny_qwen_dir, tmp_path):
    out = tmp_path / "run"
    proc, notes = launch_two(tiny_qwen_dir, tmp_path, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((out / RUN_FILE).read_text())
    assert info["finished"] and info["global_step"] == 2
    # Both ranks scored their own share of each step's completions inside one gloo group of 2.
    assert sorted(p.name for p in notes.iterdir()) == ["rank-0.jsonl", "rank-1.jsonl"]
    for path in notes.iterdir():
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert len(rows) == 2  # one generation batch per step, two steps
        assert all(r == {"world": 2, "backend": "gloo", "scored": 2} for r in rows), rows
    before, after = load_file(tiny_qwen_dir / "model.safetensors"), load_file(out / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before), "no weight changed"


@pytest.mark.slow
def test_dynamic_sampling_on_two_processes(tiny_qwen_dir, tmp_path):
    # Groups without a signal (problems about 1) are dropped and refilled on each rank; both ranks
    # must run the same rounds and collectives, or the run hangs (the timeout would fail it).
    out = tmp_path / "dynamic"
    proc, notes = launch_two(
        tiny_qwen_dir,
        tmp_path,
        out,
        [
            "--dynamic_sampling",
            "true",
            "--max_resample_rounds",
            "4",
            "--dynamic_sampling_metric",
            "length",
            "--dataset_name",
            "generated:bare?n=20&seed=0&max_operand=6",
        ],
        {"FLAT": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    calls = {p.name: len(p.read_text().splitlines()) for p in notes.iterdir()}
    assert len(calls) == 2 and len(set(calls.values())) == 1 and min(calls.values()) >= 2  # same rounds on both
    state = json.loads((out / "trainer_state.json").read_text())
    logged = [e for e in state["log_history"] if "dynamic/rounds" in e]
    # Each of the 2 ranks trains one group per step, and every trained group has a length signal.
    assert len(logged) == 2 and all(e["dynamic/groups_kept"] >= 2 for e in logged), logged
    assert all(e["dynamic/zero_signal_trained"] == 0.0 for e in logged), logged


@pytest.mark.slow
def test_dapo_filter_one_epoch_and_one_dataset_on_two_processes(tiny_qwen_dir, tmp_path):
    """DAPO's filter keys on accuracy: a random model gets every answer wrong, so every group is
    all-wrong (its length reward still varies) and none is kept; refills come from the epoch, so no
    problem is generated twice and the epoch ends when its problems are used up; and rank 1, whose
    gold checks disagree with rank 0's, still trains on rank 0's rows (built once, checked)."""
    out = tmp_path / "dapo"
    extra = [
        "--dynamic_sampling",
        "true",
        "--dynamic_sampling_metric",
        "accuracy",
        "--max_resample_rounds",
        "3",
        "--dataset_name",
        "generated:bare?n=12&seed=0&max_operand=9",
        "--max_steps",
        "-1",
        "--num_train_epochs",
        "1",
        "--save_steps",
        "100",
    ]
    proc, notes = launch_two(tiny_qwen_dir, tmp_path, out, extra, {"DROP_ON_RANK": "1", "NOTE_PROBLEMS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "the same 12 rows on all 2 processes" in proc.stderr, proc.stderr[-3000:]
    state = json.loads((out / "trainer_state.json").read_text())
    logged = [e for e in state["log_history"] if "dynamic/rounds" in e]
    assert logged and all(e["dynamic/groups_kept"] == 0 and e["dynamic/zero_signal_trained"] == 1.0 for e in logged)
    # One epoch: each problem generated for exactly one group (2 completions), across both ranks.
    seen = [
        p for path in notes.iterdir() for line in path.read_text().splitlines() for p in json.loads(line)["problems"]
    ]
    counts = {p: seen.count(p) for p in seen}
    assert set(counts.values()) == {2}, counts
    assert len(counts) <= 12 and state["global_step"] < 6  # the refills used the epoch up early


@pytest.mark.slow
def test_lora_through_peft(tiny_qwen_dir, tmp_path, monkeypatch, recording_hub):
    monkeypatch.setitem(REWARDS, "length", length_reward)
    out = tmp_path / "lora"
    argv = tiny_train_args(tiny_qwen_dir, out, 1) + [
        "--per_device_train_batch_size",
        "4",
        "--use_peft",
        "true",
        "--lora_r",
        "16",
        "--lora_alpha",
        "32",
        "--lora_target_modules",
        "all-linear",
        "--push_to_hub",
        "true",
        "--hub_model_id",
        "me/tiny-lora",
    ]
    trainer = run(*parse_train_args(argv))
    assert trainer.state.global_step == 1
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 16 and config["lora_alpha"] == 32
    adapter = load_file(out / "adapter" / "adapter_model.safetensors")
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b), "LoRA B starts at zero and must have moved"
    # The merged full model sits at the top, loadable by eval/vLLM like any other run, and
    # differs from the base exactly where LoRA adapted it.
    before, merged = load_file(tiny_qwen_dir / "model.safetensors"), load_file(out / "model.safetensors")
    assert set(merged) == set(before) and not any("lora" in k for k in merged)
    assert any(not torch.equal(before[k], merged[k]) for k in before), "merged weights equal the base"
    assert (out / "tokenizer.json").is_file()
    # push_to_hub publishes the merged model (what from_pretrained loads), once.
    (upload,) = recording_hub
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= set(upload["files"])
    assert (
        upload["digests"]["model.safetensors"] == hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    )


@pytest.mark.slow
def test_gpu_step_bench_runs_on_cpu_with_tiny_model(tmp_path):
    table = tmp_path / "table.md"
    cmd = [
        sys.executable,
        str(BENCH / "gpu_step.py"),
        "--tiny",
        "--backends",
        "transformers",
        "--rollouts",
        "1",
        "--workdir",
        str(tmp_path / "work"),
        "--output",
        str(table),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = table.read_text()
    assert "CPU (no GPU" in text and "Command: python bench/gpu_step.py --tiny" in text
    rows = [line for line in text.splitlines() if line.startswith("| transformers |")]
    assert len(rows) == 1, text
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    step_s, gen_s, gen_tok_s = (float(cells[i].replace(",", "")) for i in (1, 2, 3))
    assert step_s > gen_s > 0 and gen_tok_s > 0
    assert "stopped early" not in text  # every completion ran to the full 32 tokens
    assert "8 completions (8 per prompt) x 32 tokens" in text  # the seed recipe's batch, tiny length
