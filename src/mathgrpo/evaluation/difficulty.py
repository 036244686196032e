"""Difficulty filtering, offline: each problem's pass rate under a model, and a band to keep.

Usage: ``mathgrpo prepare-data --dataset D --output O.jsonl --pass-rate-model M --pass-rate-k 8 --pass-rate-keep 0,1``

The model answers each problem ``k`` times with the training template (sampling as in training,
temperature 1.0 by default); our grader scores each answer with the training reward's verdict
(strict); a problem's pass rate is its share of right answers. Problems whose rate is not strictly
inside the band are dropped: with ``0,1``, those the model always or never solves, which give GRPO
groups without a signal (POLARIS and Skywork-OR1 filter this way; dynamic sampling then has less to
drop). Generation goes through ``mathgrpo eval``'s machinery into a work folder next to the output
(vLLM when installed with a GPU, transformers otherwise), so an interrupted run resumes where it
stopped, with a progress bar.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from mathgrpo.errors import UserError

log = logging.getLogger(__name__)


def parse_band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise UserError(f"--pass-rate-keep must be LOW,HIGH (e.g. 0,1), got {text!r}") from None
    if not low < high:
        raise UserError(f"--pass-rate-keep: LOW must be below HIGH, got {text!r}")
    return low, high


def data_digest(problems: list[str], answers: list[str]) -> str:
    h = hashlib.sha256()
    for p, a in zip(problems, answers):
        h.update(p.encode("utf-8", "surrogatepass") + b"\0" + str(a).encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()[:16]


def pass_rates(
    ds,
    *,
    model: str,
    template: str,
    k: int,
    temperature: float = 1.0,
    max_new_tokens: int = 1024,
    work_dir: Path,
    batch_size: int | None = None,
    backend: str = "auto",
    seed: int = 0,
) -> list[float]:
    """Each row's share of ``k`` sampled answers graded right (strict verdict), resumable in ``work_dir``."""
    import torch

    from mathgrpo.data.templates import get_template
    from mathgrpo.evaluation.folder import EvalFolder
    from mathgrpo.evaluation.sampler import GenerationSettings, generate_missing, resolve_generation
    from mathgrpo.models import load_error, load_tokenizer, resolve_model, stop_token_ids

    if k < 1:
        raise UserError(f"--pass-rate-k must be at least 1 (got {k})")
    # Sampling as in training; the answer read as the training reward reads it (boxed, strict verdict).
    gen = GenerationSettings(
        n=k, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed, backend=backend, batch_size=batch_size
    )
    folder = EvalFolder(work_dir, compared=("data",))
    with folder.writing():
        model_path = resolve_model(model, field="--pass-rate-model")
        try:
            tokenizer = load_tokenizer(model_path)
        except (OSError, ValueError) as err:
            raise load_error(model, err, "--pass-rate-model") from None
        chosen = get_template(template)
        problems, answers = list(ds["problem"]), list(ds["answer"])
        backend_name, dtype = resolve_generation(gen, torch.cuda.is_available())
        settings = {
            "model": model,
            "template": template,
            "temperature": temperature,
            "top_p": 1.0,
            "max_new_tokens": max_new_tokens,
            "seed": seed,
            "stop_token_ids": stop_token_ids(tokenizer),
            "backend": backend_name,
            "dtype": dtype,
            "data": data_digest(problems, answers),
        }
        done = folder.open(settings)
        task = {
            "label": "data",
            "ids": [str(i) for i in range(len(problems))],
            "answers": answers,
            "prompts": [chosen.render(p, tokenizer) for p in problems],
            "extra": {},
        }
        generate_missing(gen, [task], tokenizer, model_path, folder, done)
        records = folder.read()
    rates = []
    for i in range(len(problems)):
        verdicts = [records[("data", str(i), s)].get("correct_strict") for s in range(k)]
        rates.append(sum(1 for v in verdicts if v is True) / k)
    return rates


def keep_band(ds, rates: list[float], band: tuple[float, float]):
    """``ds`` with a ``pass_rate`` column, keeping rows with LOW < rate < HIGH; (dataset, dropped)."""
    low, high = band
    ds = ds.add_column("pass_rate", rates)
    keep = [i for i, r in enumerate(rates) if low < r < high]
    return ds.select(keep), len(rates) - len(keep)
