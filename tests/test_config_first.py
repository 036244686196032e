"""Config errors come first: each one-line error of `mathgrpo train` that needs no model and no TRL
arrives before TRL is imported, in about a second, as the only line on stderr (train/precheck.py)."""

import resource
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / "recipes/demo/smollm2-cpu.yaml")
# CPU seconds, not wall time: the bound holds on a loaded machine. Importing TRL's GRPOConfig alone
# costs several CPU seconds (checked below), so the bound tells the two apart.
BOUND_CPU_S = 1.0


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_python(*argv: str) -> tuple[subprocess.CompletedProcess, float]:
    before = child_cpu()
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300, cwd=REPO)
    return proc, child_cpu() - before


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


CASES = {
    "template": (["--config", DEMO, "--template", "chain"], "unknown template 'chain'"),
    "reward": (["--config", DEMO, "--reward_funcs", "accuracy", "nope"], "unknown reward 'nope'"),
    "language": (["--config", DEMO, "--language", "fr"], "language must be all, en or zh"),
    "model folder": (["--config", DEMO, "--model_name_or_path", "/nonexistent/model"], "folder /nonexistent/model"),
    "no model": (["--template", "r1"], "model_name_or_path is not set"),
    "recipe file": (["--config", "/nonexistent/recipe.yaml"], "recipe /nonexistent/recipe.yaml"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_error_is_one_line_before_trl(case, tmp_path):
    argv, expected = CASES[case]
    proc, cpu = run_python("-m", "mathgrpo.cli", "train", *argv)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr  # every line of stderr counted, as a user sees it
    assert expected in lines[0] and lines[0].startswith("mathgrpo train: error:"), lines
    assert cpu < BOUND_CPU_S, f"{case}: {cpu:.2f} CPU s (TRL imported before the check?)"


def test_bad_yaml_and_output_dir_that_is_a_file(tmp_path):
    bad = write(tmp_path / "bad.yaml", "template: [unclosed\n")
    proc, cpu = run_python("-m", "mathgrpo.cli", "train", "--config", bad)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "is not valid YAML" in proc.stderr
    afile = write(tmp_path / "a-file", "x")
    proc2, cpu2 = run_python("-m", "mathgrpo.cli", "train", "--config", DEMO, "--output_dir", afile)
    assert proc2.returncode == 2 and proc2.stderr.count("\n") == 1 and "output_dir" in proc2.stderr, proc2.stderr
    assert max(cpu, cpu2) < BOUND_CPU_S


def test_the_bound_tells_a_trl_import_apart():
    # The bound can fail: the import every check now precedes costs more than it.
    _, cpu = run_python("-c", "from trl import GRPOConfig")
    assert cpu > BOUND_CPU_S


@pytest.mark.parametrize(
    "argv, expected",
    [(["--num_generations", "3"], "must be divisible by num_generations"), (["--learning_rat", "3"], "learning_rate")],
)
def test_errors_found_by_trls_parser_are_one_line_too(argv, expected):
    # These need TRL's GRPOConfig; importing it (with the dev extras: bitsandbytes) must add no line.
    import importlib.util

    proc, _ = run_python("-m", "mathgrpo.cli", "train", "--config", DEMO, *argv)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and expected in lines[0], proc.stderr
    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes (dev extra) is not installed: its import notice was not exercised")


def test_early_booleans_read_as_trls_parser_reads_them():
    # A spelling TRL accepts must not be refused early (bf16 without a GPU is refused unless use_cpu).
    from transformers.hf_argparser import string_to_bool

    from mathgrpo.train.precheck import early_values, truthy

    for spelling in ("yes", "true", "t", "y", "1", "no", "false", "f", "n", "0", "TRUE"):
        assert truthy(spelling) == string_to_bool(spelling), spelling
    assert early_values(["--use_cpu", "--bf16", "true"], {})["use_cpu"] is True  # a bare flag
    assert early_values(["--use_cpu", "f"], {"use_cpu": True})["use_cpu"] == "f"  # the command line wins
