"""The tested version set: constraints.txt, pyproject's TRL range and the start-up check agree, and
an untested TRL is refused in one line unless the user overrides it."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

from mathgrpo.errors import UserError
from mathgrpo.train.versions import TESTED_TRL, check_trl_version, major_minor

REPO = Path(__file__).resolve().parents[1]


def pins() -> dict[str, str]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_constraints_pin_the_libraries_the_suite_runs_on():
    pinned = pins()
    for name in (
        "trl",
        "transformers",
        "accelerate",
        "datasets",
        "math-verify",
        "latex2sympy2-extended",
        "peft",
        "bitsandbytes",
        "torch-optimi",
    ):
        assert name in pinned, f"constraints.txt does not pin {name}"
    assert "torch" not in pinned  # chosen per machine, installed first
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pinned.values())


def test_the_installed_trl_is_the_pinned_one_and_a_tested_minor():
    assert version("trl") == pins()["trl"], (
        "installed trl differs from constraints.txt: install with -c constraints.txt"
    )
    assert major_minor(pins()["trl"]) in TESTED_TRL


def test_pyproject_admits_exactly_the_tested_trl_minors():
    text = (REPO / "pyproject.toml").read_text()
    (spec,) = re.findall(r'"trl(>=[^"]+)"', text)
    low, high = re.fullmatch(r">=([\d.]+),<([\d.]+)", spec).groups()
    tested = sorted(tuple(map(int, t.split("."))) for t in TESTED_TRL)
    assert tuple(map(int, low.split(".")))[:2] == tested[0]
    assert tuple(map(int, high.split("."))) == (tested[-1][0], tested[-1][1] + 1)


def test_an_untested_trl_is_one_line_unless_allowed():
    with pytest.raises(UserError, match=r"trl 1\.17\.0 is not a version mathgrpo is tested on .*--allow_untested_trl"):
        check_trl_version(installed="1.17.0")
    assert check_trl_version(allow_untested=True, installed="2.0.1") == "2.0.1"
    assert check_trl_version(installed=f"{TESTED_TRL[0]}.3+local") == f"{TESTED_TRL[0]}.3+local"


def test_train_refuses_it_before_loading_anything(monkeypatch, capsys):
    from mathgrpo import cli
    from mathgrpo.train import versions

    monkeypatch.setattr(versions, "version", lambda name: "1.99.0")
    demo = ["train", "--config", str(REPO / "recipes/demo/smollm2-cpu.yaml"), "--output_dir", "/nonexistent/x"]
    assert cli.main(demo) == 2
    err = capsys.readouterr().err.strip()
    assert "trl 1.99.0 is not a version mathgrpo is tested on" in err and "\n" not in err
