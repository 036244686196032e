"""DeepSpeed ZeRO-2 and ZeRO-3 as users launch them: ``accelerate launch --config_file
recipes/accelerate/zero2.yaml`` (or zero3.yaml), unchanged, with two CPU processes over gloo
(``--num_processes 2 --mixed_precision no``, ``CUDA_VISIBLE_DEVICES=""``, recipe flag ``--use_cpu true``),
training a tiny random Qwen2 with the seed recipe (recipes/qwen2.5-math-1.5b/seed.yaml) for 2 steps.

Nine launches (about 25-50 s each on 2 cores) are shared by all assertions through module
fixtures. DeepSpeed compiles one C++ op on CPU (``deepspeed_shm_comm``, its shared-memory
all-reduce); :func:`deepspeed_op` builds it once before any launch (a no-op when cached in
``~/.cache/torch_extensions``; ``.ci/run`` builds it before the suite).

Why the non-DeepSpeed reference is two DDP processes and not one: GRPO samples its completions, and
one process draws a step's 4 completions in one batch where two draw 2 each from the same seed, so
one process trains on other completions (measured: the update differs by 94% from a 2-process run's,
DDP and ZeRO alike). Two DDP processes draw exactly what the ZeRO runs draw; they differ only in
what DeepSpeed changes (bf16 weights in the forward and backward pass, float32 master weights)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mathgrpo.errors import UserError
from mathgrpo.files import RUN_FILE

from conftest import accelerate_launch, tiny_run_argv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="deepspeed is not installed"),
]

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "recipes" / "qwen2.5-math-1.5b" / "seed.yaml"
KILLED = 77  # the exit status of a process the wrapper kills

WRAPPER = """
import os, sys
import torch.distributed as dist
from mathgrpo.train.rewards import REWARDS

def length_reward(opts):
    # A random model never answers correctly: a length reward gives GRPO a signal.
    def length(completions, **kwargs):
        return [min(len(c), 40) / 40.0 for c in completions]
    return length

REWARDS["length"] = length_reward

def die():
    os._exit(%(killed)d)  # no cleanup, no atexit: as a preempted job dies

kill = os.environ.get("KILL", "")
if kill.startswith("after_step_"):
    # Every rank writes its part of the checkpoint, then the whole job dies.
    from transformers import Trainer
    step, save = int(kill.rsplit("_", 1)[1]), Trainer._save_checkpoint
    def save_then_die(self, *args, **kwargs):
        save(self, *args, **kwargs)
        if self.state.global_step == step:
            if dist.is_initialized():
                dist.barrier()
            die()
    Trainer._save_checkpoint = save_then_die
elif kill.startswith("moving_"):
    # The final save dies right after moving this file into output_dir.
    import mathgrpo.train.final as final
    class Os:
        def __getattr__(self, name):
            return getattr(os, name)
        def replace(self, src, dst):
            os.replace(src, dst)
            if os.path.basename(dst) == kill[len("moving_"):]:
                die()
    final.os = Os()
from mathgrpo.cli import main
sys.exit(main(["train", *sys.argv[1:]]))
""" % {"killed": KILLED}


@pytest.fixture(scope="module")
def deepspeed_op():
    """DeepSpeed's CPU communication op, built once (a few seconds when cached, minutes when not)."""
    from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder

    ShareMemCommBuilder().load(verbose=False)


def seed_argv(model_dir, out, *extra) -> list[str]:
    """The seed recipe, shrunk: the tiny model, 2 steps of 2 prompts x 2 completions, a checkpoint
    every step (so a run can be killed after any step)."""
    return [
        "--config",
        str(SEED),
        *tiny_run_argv(
            model_dir,
            out,
            "--reward_funcs",
            "accuracy",
            "format",
            "length",
            "--per_device_train_batch_size",
            "2",
            "--save_steps",
            "1",
            "--log_completions",
            "false",
            *extra,
        ),
    ]


class Launcher:
    def __init__(self, model_dir: Path, root: Path):
        self.model_dir, self.root = model_dir, root
        self.script = root / "train_ds.py"
        self.script.write_text(textwrap.dedent(WRAPPER))
        self.logs: dict[str, str] = {}

    def __call__(self, config: str, out: Path, *extra: str, kill: str = "", expect: int = 0):
        cmd = accelerate_launch(config, self.script, *seed_argv(self.model_dir, out, *extra))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "KILL": kill}
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env, cwd=self.root)
        self.logs[f"{out.name} {kill}".strip()] = proc.stderr
        # torchrun reports a killed worker as its own failure (exit status 1)
        ok = proc.returncode == 0 if expect == 0 else proc.returncode != 0 and f"exitcode: {KILLED}" in proc.stderr
        assert ok, f"{config} {kill or ''}: exit {proc.returncode}\n{proc.stderr[-4000:]}"
        return proc


@pytest.fixture(scope="module")
def launch(tiny_qwen_dir, tmp_path_factory, deepspeed_op):
    return Launcher(tiny_qwen_dir, tmp_path_factory.mktemp("ds"))


@pytest.fixture(scope="module")
def ddp(launch):
    out = launch.root / "ddp"
    launch("ddp", out)
    return out


@pytest.fixture(scope="module")
def zero2(launch):
    out = launch.root / "zero2"
    launch("zero2", out)
    return out


@pytest.fixture(scope="module")
def zero2_resumed(launch):
    """ZeRO-2 killed after step 1, resumed and killed right after its last step (checkpoint-2
    written, no final save), resumed again: it only finishes the save."""
    out = launch.root / "zero2-resumed"
    launch("zero2", out, kill="after_step_1", expect=KILLED)
    assert not (out / "model.safetensors").exists()
    launch("zero2", out, "--resume", "true", kill="after_step_2", expect=KILLED)
    assert not (out / "model.safetensors").exists() and (out / "checkpoint-2").is_dir()
    proc = launch("zero2", out, "--resume", "true")
    assert "finishing the final save only" in proc.stderr
    return out


@pytest.fixture(scope="module")
def zero3(launch):
    """ZeRO-3 trained uninterrupted, killed while its final save moves model.safetensors into place
    (the file is then the one the uninterrupted run gathered: kept aside), then resumed."""
    out = launch.root / "zero3"
    launch("zero3", out, kill="moving_model.safetensors", expect=KILLED)
    gathered = launch.root / "zero3-gathered.safetensors"
    shutil.copy(out / "model.safetensors", gathered)
    with pytest.raises(UserError, match="has not finished its final save"):  # eval refuses the mixed folder
        from mathgrpo.models import check_reference

        check_reference(str(out))
    proc = launch("zero3", out, "--resume", "true")
    assert "finishing the final save only" in proc.stderr
    return out, gathered


@pytest.fixture(scope="module")
def zero3_lora(launch):
    """LoRA under ZeRO-3, killed while its final save moves the merged weights in (kept aside),
    then resumed: the merge is redone from the LoRA weights in checkpoint-2's ZeRO files."""
    out = launch.root / "zero3-lora"
    lora = ["--use_peft", "true", "--lora_r", "8", "--lora_alpha", "16", "--lora_target_modules", "all-linear"]
    launch("zero3", out, *lora, kill="moving_model.safetensors", expect=KILLED)
    gathered = launch.root / "zero3-lora-gathered.safetensors"
    shutil.copy(out / "model.safetensors", gathered)
    proc = launch("zero3", out, *lora, "--resume", "true")
    assert "finishing the final save only" in proc.stderr
    return out, gathered


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def update_gap(a: dict, b: dict, base: dict) -> float:
    """|update_a - update_b| / |update_b| over all weights (updates measured from the base model)."""
    num = sum(float(((a[k] - base[k]) - (b[k] - base[k])).pow(2).sum()) for k in b)
    den = sum(float((b[k] - base[k]).pow(2).sum()) for k in b)
    return (num / den) ** 0.5


def zero_to_fp32(checkpoint: Path) -> dict:
    """DeepSpeed's own reader of the float32 master weights in a ZeRO checkpoint."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return get_fp32_state_dict_from_zero_checkpoint(str(checkpoint))


# ----------------------------------------------------------------------------- (a) full model, exported whole


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
def test_zero_final_model_is_the_float32_master_weights(stage, request, tiny_qwen_dir, ddp):
    out = request.getfixturevalue(stage)
    out = out[0] if isinstance(out, tuple) else out
    base, final, reference = weights(tiny_qwen_dir), weights(out), weights(ddp)
    # Written in the recipe's dtype (float32), tied embedding once, same names as the base model.
    assert set(final) == set(base) and "lm_head.weight" not in final
    assert {t.dtype for t in final.values()} == {torch.float32}
    assert json.loads((out / "config.json").read_text())["dtype"] == "float32"
    # Exactly DeepSpeed's float32 master weights at the last step, as its own zero_to_fp32 reads them.
    masters = zero_to_fp32(out / "checkpoint-2")
    assert all(torch.equal(final[k], masters[k]) for k in final)
    # Close to DDP's float32 training on the same completions. DeepSpeed runs the forward and
    # backward pass on bf16 copies of the weights (8 significant bits: each weight off by up to
    # 0.4%), so gradients differ by a few percent and Adam's first steps, which move each weight by
    # about lr whatever its gradient's size, turn that into the same share of the update: measured
    # 3.3% (ZeRO-2 and ZeRO-3, 2 steps). A missed partition or an untrained weight is a 100% gap.
    assert update_gap(final, reference, base) < 0.10
    for k in base:  # every tensor trained, none left at its initial value (a partition not gathered)
        assert not torch.equal(final[k], base[k]), k
        # A key bias adds one score to every key of a query, which softmax ignores: its gradient
        # is zero but for rounding, so its update is noise in both runs (measured gap 0.44-0.56).
        if not k.endswith("k_proj.bias"):
            assert update_gap({k: final[k]}, {k: reference[k]}, {k: base[k]}) < 0.4, k
    run = json.loads((out / RUN_FILE).read_text())
    assert run["finished"] and run["global_step"] == 2


# ----------------------------------------------------------------------------- (b), (d) resume


def test_zero2_killed_after_a_step_and_after_the_last_resumes_to_the_same_weights(zero2, zero2_resumed):
    # The resumed run trained step 2 from checkpoint-1, and its final model was then read from
    # checkpoint-2's ZeRO files (the process that trained it was killed): bit-identical.
    a, b = weights(zero2), weights(zero2_resumed)
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((zero2_resumed / RUN_FILE).read_text())["finished"]


def test_zero3_killed_during_the_final_save_finishes_it_whole(zero3):
    out, gathered = zero3
    # The save finished from checkpoint-2's ZeRO files equals what the live run had gathered.
    a, b = load_file(gathered), weights(out)
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    # Exactly one model in output_dir: no staging folder, no second weights file.
    assert not (out / ".final-tmp").exists()
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["model.safetensors"]
    from mathgrpo.models import check_reference

    assert check_reference(str(out)) == "folder"  # finished: eval takes it


# ----------------------------------------------------------------------------- (c) LoRA under ZeRO-3


def test_lora_under_zero3_merges_a_complete_model(zero3_lora, tiny_qwen_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    (out, gathered), base = zero3_lora, weights(tiny_qwen_dir)
    merged = weights(out)
    # The merge redone from the checkpoint equals the one the live run gathered and merged.
    live = load_file(gathered)
    assert set(live) == set(merged) and all(torch.equal(live[k], merged[k]) for k in merged)
    # Complete: every tensor of the base, full shape (ZeRO-3 partitions would be empty), float32.
    assert set(merged) == set(base)
    assert all(merged[k].shape == base[k].shape for k in base)
    assert {t.dtype for t in merged.values()} == {torch.float32}
    # The adapter holds the float32 LoRA master weights of the last step (DeepSpeed's own reader).
    adapter = load_file(out / "adapter" / "adapter_model.safetensors")
    masters = {k.replace(".default", ""): v for k, v in zero_to_fp32(out / "checkpoint-2").items() if "lora_" in k}
    assert set(adapter) == set(masters) and all(torch.equal(adapter[k], masters[k]) for k in adapter)
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k), "LoRA B starts at zero"
    # It loads, and equals what peft merges from that adapter in one plain process. Tolerance: the
    # merge is the same float32 arithmetic, so only summation order could differ (none expected).
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_qwen_dir), out / "adapter")
    expected = plain.merge_and_unload().state_dict()
    loaded = model.state_dict()
    for k in base:
        torch.testing.assert_close(loaded[k], expected[k], rtol=0, atol=1e-6)
    changed = [k for k in base if not torch.equal(merged[k], base[k])]
    assert changed and all("proj" in k for k in changed)  # LoRA moved exactly the adapted layers
