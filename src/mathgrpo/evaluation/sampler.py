"""The sampling loop shared by `mathgrpo eval` and difficulty filtering: generate every sample a folder
lacks, grade it, append it; with typed settings, so a library caller needs no command-line namespace.

Usage: ``generate_missing(GenerationSettings(n=8, temperature=1.0), tasks, tokenizer, model_path, folder, done)``

A task is ``{"label", "ids", "answers", "prompts", "extra"}``: one benchmark's problems, their golds (a
gold, or a list of golds any of which may match), rendered prompts and per-problem breakdown fields.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, fields

from mathgrpo.evaluation.folder import EvalFolder, grade_record

log = logging.getLogger(__name__)


@dataclass
class GenerationSettings:
    """How samples are generated and read; the `mathgrpo eval` options of the same names."""

    n: int = 1  # samples per problem
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    max_new_tokens: int = 3000
    seed: int = 0
    backend: str = "auto"  # auto | vllm | transformers
    dtype: str = "auto"
    trust_remote_code: bool = False
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    batch_size: int | None = None  # None: 512 on vLLM, 8 on transformers
    extraction: str = "boxed"  # how a completion's answer is read (grading.EXTRACTIONS)

    @classmethod
    def from_namespace(cls, args) -> GenerationSettings:
        """The settings a parsed `mathgrpo eval` command line holds (fields it lacks keep their defaults)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None})


def sample_seed(seed: int, benchmark: str, problem_id: str, sample: int) -> int:
    """A per-sample seed, the same whatever the batching (vLLM honours it per request)."""
    digest = hashlib.sha256(f"{seed}\0{benchmark}\0{problem_id}\0{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def resolve_generation(gen: GenerationSettings, on_gpu: bool) -> tuple[str, str]:
    """(backend, dtype) as they will really run: both are compared when a folder is resumed."""
    from mathgrpo.evaluation.generation import choose_backend, resolve_dtype

    backend = choose_backend(gen.backend)
    return backend, gen.dtype if backend == "vllm" else resolve_dtype(gen.dtype, on_gpu)


def generate_missing(gen: GenerationSettings, tasks, tokenizer, model_path, folder: EvalFolder, done: dict) -> int:
    """Generate, grade and append every sample not yet in ``done``; returns how many were made."""
    from tqdm.auto import tqdm

    from mathgrpo.data.templates import encode_prompts
    from mathgrpo.evaluation.generation import Sampling, make_backend

    pending = [
        (task, i, s)
        for task in tasks
        for i in range(len(task["ids"]))
        for s in range(gen.n)
        if (task["label"], task["ids"][i], s) not in done
    ]
    total = sum(len(t["ids"]) for t in tasks) * gen.n
    if not pending:
        log.info("all %d samples are already in %s: nothing to generate", total, folder.samples_path)
        return 0
    sampling = Sampling(gen.temperature, gen.top_p, gen.max_new_tokens, gen.seed)
    backend = make_backend(
        gen.backend,
        model_path,
        tokenizer,
        sampling,
        dtype=gen.dtype,
        trust_remote_code=gen.trust_remote_code,
        tensor_parallel_size=gen.tensor_parallel_size,
        gpu_memory_utilization=gen.gpu_memory_utilization,
        max_model_len=gen.max_model_len,
    )
    batch_size = gen.batch_size or (512 if backend.name == "vllm" else 8)
    encoded = {id(t): encode_prompts(tokenizer, t["prompts"]) for t in tasks}
    log.info("generating %d samples (%d already done), %d per batch", len(pending), total - len(pending), batch_size)
    bar = tqdm(total=total, initial=total - len(pending), unit="sample", desc="eval", dynamic_ncols=True)

    def progress(step: int) -> None:  # within a batch: the tokens generated so far
        bar.set_postfix_str(f"batch: token {step}/{gen.max_new_tokens}", refresh=True)

    try:
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            seeds = [sample_seed(gen.seed, t["label"], t["ids"][i], s) for t, i, s in batch]
            outs = backend.generate([encoded[id(t)][i] for t, i, _ in batch], seeds, progress=progress)
            records = []
            for (task, i, s), comp in zip(batch, outs):
                gold = task["answers"][i]
                records.append(
                    {
                        "benchmark": task["label"],
                        "id": task["ids"][i],
                        "sample": s,
                        **{k: v[i] for k, v in task["extra"].items()},
                        "prompt": task["prompts"][i],
                        "completion": comp.text,
                        "gold": gold,
                        **grade_record(comp.text, gold, gen.extraction),
                        "truncated": comp.truncated,
                        "n_tokens": comp.n_tokens,
                    }
                )
            folder.append(records)
            bar.update(len(batch))
    finally:
        bar.close()
    return len(pending)
