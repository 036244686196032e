"""``mathgrpo eval``: benchmark a base or trained model with the training prompts and grader.

Usage: ``mathgrpo eval --model Qwen/Qwen2.5-Math-1.5B --benchmarks math500,aime24 --output out/eval-base``
       ``mathgrpo eval --compare out/eval-base out/eval-trained``

One output folder holds ``settings.json`` (what was generated, and how), ``samples.jsonl``
(one line per sample, appended and flushed per batch), ``summary.json`` and ``results.md``
(written atomically). A rerun into the same folder generates only the samples that are not
there yet, keyed by (benchmark, problem id, sample index); a rerun with other generation
settings is refused rather than mixing two kinds of samples into one number.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from mathgrpo.errors import UserError
from mathgrpo.files import write_atomic

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
SAMPLES_FILE = "samples.jsonl"
SUMMARY_FILE = "summary.json"
TABLE_FILE = "results.md"
# What makes two samples comparable. n, benchmarks, limit, batch size and backend may change
# between runs into one folder (more samples, more problems); these may not.
COMPARED = ("model", "template", "temperature", "top_p", "max_new_tokens", "seed")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mathgrpo eval", description=__doc__.split("\n\n")[0])

    def opt(*names, **kw):
        p.add_argument(*names, **kw)

    opt("--model", help="hub name, local folder (a training output folder too), .gguf file or packaged short name")
    opt(
        "--benchmarks", default="math500", help="comma list: built-in names, .jsonl/.parquet files, generated:... specs"
    )
    opt("--output", help="output folder (resumed when it already holds samples)")
    opt("--compare", nargs=2, metavar=("DIR_A", "DIR_B"), help="print the results of two output folders with deltas")
    opt("--limit", type=int, default=None, help="evaluate the first N problems of each benchmark")
    opt("--n", type=int, default=1, help="samples per problem (default 1)")
    opt("--k", default=None, help="comma list of k for pass@k (default: powers of 2 up to n, and n)")
    opt("--temperature", type=float, default=0.0, help="0 = greedy")
    opt("--top-p", type=float, default=1.0, help="nucleus sampling (default 1.0)")
    opt("--max-new-tokens", type=int, default=3000, help="completion limit in tokens (default 3000, as Oat-Zero)")
    opt("--seed", type=int, default=0, help="sampling seed (default 0)")
    opt("--template", default=None, help="prompt template (default: the training run's, else the training default)")
    opt("--data-dir", default=None, help="folder of benchmark files (default: $MATHGRPO_DATA_DIR, else the hub)")
    opt("--problem-field", default=None, help="question field of your own benchmark file")
    opt("--answer-field", default=None, help="gold answer field of your own benchmark file")
    opt("--batch-size", type=int, default=None, help="sequences per generation call (default: 8, vLLM 512)")
    opt("--backend", default="auto", help="auto (vLLM when installed with a GPU), vllm or transformers")
    opt("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU), bfloat16, float16, float32")
    opt("--tensor-parallel-size", type=int, default=1, help="vLLM: GPUs per model")
    opt("--gpu-memory-utilization", type=float, default=0.9, help="vLLM: share of GPU memory")
    opt("--max-model-len", type=int, default=None, help="vLLM: context length (default: the model's)")
    opt("--trust-remote-code", action="store_true", help="allow model code from the hub")
    return p


def normalize_flags(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Accept ``--max_new_tokens`` for ``--max-new-tokens``: train's flags are snake_case."""
    known = {o for a in parser._actions for o in a.option_strings}
    out = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        dashed = "--" + flag[2:].replace("_", "-") if flag.startswith("--") else flag
        out.append(dashed + eq + value if dashed in known and flag not in known else arg)
    return out


def check_args(args) -> list[int]:
    """One-line errors for impossible settings; returns the k values for pass@k."""
    if not args.model or not args.output:
        raise UserError("--model and --output are required (or use --compare DIR_A DIR_B)")
    if args.n < 1:
        raise UserError(f"--n must be at least 1 (got {args.n})")
    if args.temperature < 0:
        raise UserError(f"--temperature must be >= 0 (got {args.temperature}); 0 means greedy")
    if not 0 < args.top_p <= 1:
        raise UserError(f"--top-p must be in (0, 1] (got {args.top_p})")
    if args.max_new_tokens < 1:
        raise UserError(f"--max-new-tokens must be at least 1 (got {args.max_new_tokens})")
    if args.batch_size is not None and args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1 (got {args.batch_size})")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1 (got {args.limit})")
    if args.temperature == 0 and args.n > 1:
        log.warning("temperature 0 is greedy: every sample would be the same completion; using n=1 (pass@1 only)")
        args.n, args.k = 1, None
    from mathgrpo.metrics import default_ks

    if args.k is None:
        return default_ks(args.n)
    try:
        ks = sorted({int(k) for k in str(args.k).replace(" ", ",").split(",") if k})
    except ValueError:
        raise UserError(f"--k must be a comma list of integers (got {args.k!r})") from None
    if not ks or ks[0] < 1 or ks[-1] > args.n:
        raise UserError(f"--k values must be between 1 and --n ({args.n}); got {args.k!r}")
    return ks


def resolve_template(model_arg: str, model_path: str, explicit: str | None) -> tuple[str, str]:
    """(template name, where it came from): --template, else the training run's record
    (the model folder's, or its parent's for a checkpoint-N folder), else the training default."""
    from mathgrpo.config import ScriptArguments
    from mathgrpo.files import RUN_FILE
    from mathgrpo.templates import get_template

    if explicit:
        get_template(explicit)
        return explicit, "--template"
    local = [Path(p).expanduser() for p in (model_path, model_arg) if Path(p).expanduser().is_dir()]
    for folder in [f for path in local for f in (path, path.parent)]:
        record = folder / RUN_FILE
        if record.is_file():
            try:
                name = json.loads(record.read_text())["template"]
            except (OSError, ValueError, KeyError, TypeError):
                raise UserError(f"{record} has no readable 'template'; pass --template NAME") from None
            get_template(name)
            return name, str(record)
    return ScriptArguments.template, "the training default"


def model_identity(model_arg: str) -> str:
    """The model as recorded in settings: local paths absolute, so ``./run`` and ``run`` agree."""
    path = Path(model_arg).expanduser()
    return str(path.resolve()) if path.exists() else model_arg


def sample_seed(seed: int, benchmark: str, problem_id: str, sample: int) -> int:
    """A per-sample seed, the same whatever the batching (vLLM honours it per request)."""
    digest = hashlib.sha256(f"{seed}\0{benchmark}\0{problem_id}\0{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


# --------------------------------------------------------------------------- output folder


def open_output(out: Path, settings: dict) -> dict[tuple[str, str, int], dict]:
    """Check (or write) the folder's settings and return the samples already there."""
    out.mkdir(parents=True, exist_ok=True)
    settings_path, samples_path = out / SETTINGS_FILE, out / SAMPLES_FILE
    if settings_path.is_file():
        try:
            old = json.loads(settings_path.read_text())["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"{settings_path} is unreadable; pick another --output") from None
        diff = [k for k in COMPARED if _comparable(old).get(k) != _comparable(settings).get(k)]
        if diff:
            changes = ", ".join(f"{k} {old.get(k)!r} -> {settings.get(k)!r}" for k in diff)
            raise UserError(f"{out} holds samples made with other settings ({changes}); pick another --output")
    elif samples_path.exists() and samples_path.stat().st_size:
        raise UserError(f"{samples_path} exists without {SETTINGS_FILE}; pick another --output")
    else:
        write_atomic(
            settings_path, json.dumps({"settings": settings, "created": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2)
        )
    return read_samples(samples_path)


def _comparable(settings: dict) -> dict:
    # Greedy decoding ignores top-p and the seed: changing them must not block a resume.
    if settings.get("temperature") == 0:
        return {**settings, "top_p": None, "seed": None}
    return settings


def read_samples(path: Path) -> dict[tuple[str, str, int], dict]:
    """Records by (benchmark, id, sample). A line cut short by an interrupt is dropped from the
    file (its sample is generated again); any other unreadable line is an error."""
    if not path.is_file():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        log.warning("%s: dropping a partial last line (interrupted write)", path)
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    records: dict[tuple[str, str, int], dict] = {}
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            records[(rec["benchmark"], str(rec["id"]), int(rec["sample"]))] = rec
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{path}: line {n} is not a sample record; pick another --output") from None
    return records


def append_samples(path: Path, records: list[dict]) -> None:
    """Append one batch and make it durable before the next batch starts."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        fh.flush()
        os.fsync(fh.fileno())


# --------------------------------------------------------------------------- the run


def load_tasks(args, tokenizer, template) -> list[dict]:
    """One task per benchmark: its label, problems, golds, ids and rendered prompts."""
    from mathgrpo.benchmarks import benchmark_label, load_benchmark

    tasks, seen = [], set()
    for name in [b.strip() for b in args.benchmarks.split(",") if b.strip()]:
        label = benchmark_label(name)
        if label in seen:
            raise UserError(f"benchmark {label} is listed twice in --benchmarks")
        seen.add(label)
        ds = load_benchmark(name, data_dir=args.data_dir, limit=args.limit,
                            problem_field=args.problem_field, answer_field=args.answer_field)  # fmt: skip
        prompts = [template.render(p, tokenizer) for p in ds["problem"]]
        tasks.append({"label": label, "ids": ds["id"], "answers": ds["answer"], "prompts": prompts})
        log.info("%s: %d problems", label, len(ds))
    if not tasks:
        raise UserError("--benchmarks is empty; name at least one benchmark")
    return tasks


def generate_missing(args, settings, tasks, tokenizer, model_path, out: Path, done: dict) -> int:
    """Generate, grade and append every sample not yet in ``done``; returns how many were made."""
    from tqdm.auto import tqdm

    from mathgrpo.generation import Sampling, make_backend
    from mathgrpo.grading import extract_boxed, grade
    from mathgrpo.templates import encode_prompts

    pending = [
        (task, i, s)
        for task in tasks
        for i in range(len(task["ids"]))
        for s in range(args.n)
        if (task["label"], task["ids"][i], s) not in done
    ]
    total = sum(len(t["ids"]) for t in tasks) * args.n
    if not pending:
        log.info("all %d samples are already in %s: nothing to generate", total, out / SAMPLES_FILE)
        return 0
    sampling = Sampling(args.temperature, args.top_p, args.max_new_tokens, args.seed)
    backend = make_backend(
        args.backend, model_path, tokenizer, sampling, dtype=args.dtype, trust_remote_code=args.trust_remote_code,
        tensor_parallel_size=args.tensor_parallel_size, gpu_memory_utilization=args.gpu_memory_utilization,
        max_model_len=args.max_model_len,
    )  # fmt: skip
    batch_size = args.batch_size or (512 if backend.name == "vllm" else 8)
    encoded = {id(t): encode_prompts(tokenizer, t["prompts"]) for t in tasks}
    log.info("generating %d samples (%d already done), %d per batch", len(pending), total - len(pending), batch_size)
    bar = tqdm(total=total, initial=total - len(pending), unit="sample", desc="eval", dynamic_ncols=True)
    try:
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            seeds = [sample_seed(args.seed, t["label"], t["ids"][i], s) for t, i, s in batch]
            outs = backend.generate([encoded[id(t)][i] for t, i, _ in batch], seeds)
            records = []
            for (task, i, s), comp in zip(batch, outs):
                gold = task["answers"][i]
                records.append({
                    "benchmark": task["label"], "id": task["ids"][i], "sample": s,
                    "prompt": task["prompts"][i], "completion": comp.text,
                    "answer": extract_boxed(comp.text), "gold": gold, "correct": grade(comp.text, gold),
                    "truncated": comp.truncated, "n_tokens": comp.n_tokens,
                })  # fmt: skip
            append_samples(out / SAMPLES_FILE, records)
            bar.update(len(batch))
    finally:
        bar.close()
    return len(pending)


def summarize_run(args, settings, ks, tasks, records: dict, template_source: str) -> dict:
    from mathgrpo.metrics import average, summarize

    per_benchmark = {}
    for task in tasks:
        wanted = [records[(task["label"], pid, s)] for pid in task["ids"] for s in range(args.n)]
        per_benchmark[task["label"]] = summarize(wanted, n=args.n, ks=ks)
    return {
        "settings": settings,
        "run": {
            "n": args.n,
            "ks": ks,
            "limit": args.limit,
            "template_from": template_source,
            "benchmarks": [t["label"] for t in tasks],
        },
        "benchmarks": per_benchmark,
        "average": average(per_benchmark) if len(per_benchmark) > 1 else {},
    }


def read_summary(folder: str) -> dict:
    path = Path(folder).expanduser() / SUMMARY_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} not found; run `mathgrpo eval --output {folder}` first") from None
    except (OSError, ValueError):
        raise UserError(f"{path} is not readable JSON; rerun the evaluation into that folder") from None


def compare(dir_a: str, dir_b: str) -> str:
    """The table of two output folders (e.g. base vs trained) with deltas."""
    from mathgrpo.metrics import compare_markdown

    return compare_markdown(read_summary(dir_a), read_summary(dir_b), dir_a, dir_b)


def run(args) -> dict:
    from mathgrpo.models import load_tokenizer, resolve_model, stop_token_ids
    from mathgrpo.templates import get_template

    ks = check_args(args)
    model_path = resolve_model(args.model)
    template_name, source = resolve_template(args.model, model_path, args.template)
    log.info("template: %s (from %s)", template_name, source)
    try:
        tokenizer = load_tokenizer(model_path, trust_remote_code=args.trust_remote_code)
    except (OSError, ValueError) as err:  # no such folder / hub name, no network, no tokenizer files
        msg = " ".join(str(err).split())[:200]
        raise UserError(
            f"could not load the model {args.model!r} ({type(err).__name__}: {msg}); give a hub name, "
            "a local model folder, a .gguf file or smollm2-135m-instruct"
        ) from None
    settings = {
        "model": model_identity(args.model),
        "template": template_name,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "max_new_tokens": args.max_new_tokens,
        "seed": args.seed,
        "stop_token_ids": stop_token_ids(tokenizer),
    }
    out = Path(args.output).expanduser()
    done = open_output(out, settings)
    tasks = load_tasks(args, tokenizer, get_template(template_name))
    generate_missing(args, settings, tasks, tokenizer, model_path, out, done)
    summary = summarize_run(args, settings, ks, tasks, read_samples(out / SAMPLES_FILE), source)
    write_atomic(out / SUMMARY_FILE, json.dumps(summary, indent=2))
    from mathgrpo.metrics import results_markdown

    write_atomic(out / TABLE_FILE, results_markdown(summary))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(normalize_flags(list(sys.argv[1:] if argv is None else argv), parser))
    from mathgrpo.metrics import results_markdown

    if args.compare:
        print(compare(*args.compare))
        return 0
    summary = run(args)
    print(results_markdown(summary))
    return 0
