"""Every recipe parses; every config that cannot work stops with one line before a model loads."""

from pathlib import Path

import pytest

from mathgrpo.cli import main as cli_main
from mathgrpo.errors import UserError
from mathgrpo.train.config import parse_train_args
from mathgrpo.train.run import check_config

REPO = Path(__file__).resolve().parents[1]
# recipes/accelerate/ holds `accelerate launch` configs, not training recipes.
RECIPES = sorted(p for p in (REPO / "recipes").rglob("*.yaml") if "accelerate" not in p.parts)


def cpu_args():
    # GPU recipes ask for bf16, which TrainingArguments only accepts on CPU with use_cpu.
    import torch

    return [] if torch.cuda.is_available() else ["--use_cpu", "true"]


@pytest.mark.parametrize("recipe", RECIPES, ids=[str(p.relative_to(REPO / "recipes")) for p in RECIPES])
def test_every_recipe_parses_and_passes_static_checks(recipe):
    import importlib.util

    script_args, args, model_args = parse_train_args(["--config", str(recipe), *cpu_args()])
    assert model_args.model_name_or_path and script_args.dataset_name
    if args.use_vllm and importlib.util.find_spec("vllm") is None:
        args.use_vllm = False  # the vLLM check itself is tested below
    check_config(script_args, args, model_args)


@pytest.mark.parametrize("recipe", RECIPES, ids=[str(p.relative_to(REPO / "recipes")) for p in RECIPES])
def test_every_recipe_pins_its_algorithm_and_precision(recipe):
    import yaml

    from mathgrpo.train.config import ALGORITHM_FIELDS

    stated = yaml.safe_load(recipe.read_text())
    missing = [k for k in (*ALGORITHM_FIELDS, "dtype") if k not in stated]
    assert not missing, f"{recipe.name} inherits {missing} from TRL's defaults; state them"
    assert stated["dtype"] == "float32"  # float32 master weights: every update lands


def test_seed_recipe_is_the_original_setup():
    s, a, m = parse_train_args(["--config", str(REPO / "recipes/qwen2.5-math-1.5b/seed.yaml"), *cpu_args()])
    assert m.model_name_or_path == "Qwen/Qwen2.5-Math-1.5B"
    assert s.dataset_name == "BytedTsinghua-SIA/DAPO-Math-17k"
    assert (a.num_train_epochs, a.per_device_train_batch_size, a.gradient_accumulation_steps) == (1, 2, 4)
    assert (a.learning_rate, a.num_generations, a.max_completion_length) == (1e-6, 8, 2048)
    assert s.max_prompt_length == 512 and a.use_vllm is False and a.bf16 is True
    assert a.output_dir == "output/qwen-math-grpo"
    assert s.reward_funcs == ["accuracy", "format"] and a.reward_weights == [1.0, 0.5]


def test_command_line_overrides_recipe():
    s, a, _ = parse_train_args(
        ["--config", str(REPO / "recipes/demo/smollm2-cpu.yaml"), "--learning_rate", "3e-6", "--template", "r1"]
    )
    assert a.learning_rate == 3e-6 and s.template == "r1"


def demo(*extra):
    return ["train", "--config", str(REPO / "recipes/demo/smollm2-cpu.yaml"), *extra]


def one_line_error(capsys, argv, pattern):
    import re

    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert re.search(pattern, err), err


def test_batch_not_divisible_by_generations(capsys):
    one_line_error(
        capsys,
        demo("--per_device_train_batch_size", "3", "--num_generations", "2"),
        r"generation_batch_size \(3\) must be divisible by num_generations \(2\)",
    )


def test_unknown_template_and_reward(capsys):
    one_line_error(capsys, demo("--template", "chain"), r"unknown template 'chain'")
    one_line_error(
        capsys, demo("--reward_funcs", "accuracy", "vibes", "--reward_weights", "1", "1"), r"unknown reward 'vibes'"
    )


def test_reward_weights_must_match(capsys):
    # The demo recipe trains on one reward (accuracy): two weights cannot work.
    one_line_error(
        capsys, demo("--reward_weights", "1.0", "0.5"), r"reward_weights has 2 values but reward_funcs has 1"
    )


def test_vllm_without_vllm_installed(capsys):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    one_line_error(capsys, demo("--use_vllm", "true"), r"vLLM is not installed")


def test_prompt_plus_completion_beyond_context(capsys, tiny_qwen_dir, tmp_path):
    # The tiny model has a 1024-token context: 256 + 900 does not fit. No weights are loaded
    # for this check (only config.json), and no data either.
    one_line_error(
        capsys,
        demo(
            "--model_name_or_path",
            str(tiny_qwen_dir),
            "--max_completion_length",
            "900",
            "--output_dir",
            str(tmp_path / "out"),
        ),
        r"256 \+ max_completion_length 900 = 1156 tokens exceeds the model's context of 1024",
    )


def test_qwen_math_context_4096_check():
    from mathgrpo.train.run import check_context

    s, a, _ = parse_train_args(
        ["--config", str(REPO / "recipes/qwen2.5-math-1.5b/seed.yaml"), "--max_completion_length", "3700", *cpu_args()]
    )
    with pytest.raises(UserError, match="exceeds the model's context of 4096"):
        check_context(s, a, 4096)
    s.max_prompt_length = 396
    check_context(s, a, 4096)  # 396 + 3700 = 4096 fits exactly


def test_root_train_py_is_the_same_entry_point():
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "train.py"),
            "--config",
            str(REPO / "recipes/demo/smollm2-cpu.yaml"),
            "--template",
            "chain",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()  # every line of stderr, as a user sees it
    assert "unknown template 'chain'" in line


def test_dataset_without_answer_column(capsys, tiny_qwen_dir, tmp_path):
    data = tmp_path / "questions.jsonl"
    data.write_text('{"question": "What is 1+1?", "topic": "sums"}\n')
    one_line_error(
        capsys,
        demo(
            "--model_name_or_path",
            str(tiny_qwen_dir),
            "--dataset_name",
            str(data),
            "--output_dir",
            str(tmp_path / "out"),
        ),
        r"answer.*(question|topic)",
    )


def test_tracker_not_installed(capsys):
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    one_line_error(capsys, demo("--report_to", "wandb"), r"report_to includes 'wandb' but wandb is not installed")


def test_seed_recipe_on_a_cpu_machine_offline_is_one_line_naming_the_field(capsys, monkeypatch, tmp_path):
    import time

    import torch

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # an unreachable hub, as on this machine
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    seed = ["train", "--config", str(REPO / "recipes/qwen2.5-math-1.5b/seed.yaml"), "--output_dir", str(tmp_path / "o")]
    started = time.process_time()  # CPU of this process: holds on a loaded machine
    if not torch.cuda.is_available():
        one_line_error(capsys, seed, r"bf16: true needs a GPU .* --use_cpu true")
    one_line_error(
        capsys, [*seed, "--use_cpu", "true"], r"model_name_or_path 'Qwen/Qwen2.5-Math-1.5B': the Hugging Face"
    )
    assert time.process_time() - started < 10


def test_mistyped_flags_and_recipe_keys_are_one_line(capsys, tmp_path):
    one_line_error(
        capsys, demo("--learning_rat", "1e-5"), r"unknown option --learning_rat; did you mean 'learning_rate'"
    )
    recipe = tmp_path / "typo.yaml"
    recipe.write_text("model_name_or_path: smollm2-135m-instruct\nlerning_rate: 1.0e-5\n")
    one_line_error(
        capsys, ["train", "--config", str(recipe)], rf"recipe {recipe}: unknown key 'lerning_rate'; did you mean"
    )


def test_train_help_starts_with_config_and_mathgrpos_own_fields(capsys):
    assert cli_main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("usage: mathgrpo train [--config") and "--config RECIPE.yaml" in lines[2]
    assert out.index("--dataset_name") < out.index("--template") < out.index("--model_name_or_path")
    assert len(lines) < 200 and "--help-all" in out
    assert cli_main(["train", "--help-all"]) == 0
    full = capsys.readouterr().out
    assert full.index("mathgrpo (data, template") < full.index("TRL GRPOConfig") < full.index("TRL ModelConfig")
