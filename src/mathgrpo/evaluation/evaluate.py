"""``mathgrpo eval``: benchmark a base or trained model with the training prompts and grader.

Usage: ``mathgrpo eval --model Qwen/Qwen2.5-Math-1.5B --benchmarks math500,aime24 --output out/eval-base``
       ``mathgrpo eval --compare out/eval-base out/eval-trained``;  ``mathgrpo eval --regrade out/eval-base``

One output folder (mathgrpo.evaluation.folder) holds ``settings.json`` (what was generated, and how),
``samples.jsonl`` (one line per sample, appended and flushed per batch, each graded under both
verdicts and stamped with the grader version), ``summary.json`` and ``results.md`` (written
atomically). A rerun into the same folder generates only the samples that are not there yet; a
rerun with other generation settings (backend and dtype included) is refused rather than mixing
two kinds of samples into one number. Summaries re-grade samples graded under another grader version.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from mathgrpo.errors import ArgumentParser, UserError
from mathgrpo.evaluation.folder import EvalFolder
from mathgrpo.evaluation.sampler import GenerationSettings, generate_missing, resolve_generation
from mathgrpo.files import EVAL_SUMMARY, EVAL_TABLE, RUN_FILE, write_atomic

log = logging.getLogger(__name__)

DEFAULT_BENCHMARK = "math500"
DEFAULT_MAX_NEW_TOKENS = 3000  # Oat-Zero's evaluation budget
USAGE = (
    "mathgrpo eval --model MODEL --output DIR [--benchmarks LIST] [options]\n"
    "       mathgrpo eval --compare DIR_A DIR_B\n"
    "       mathgrpo eval --regrade DIR"
)


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="mathgrpo eval", usage=USAGE, description=__doc__.split("\n\n")[0])

    def opt(*names, **kw):
        p.add_argument(*names, **kw)

    opt("--model", help="hub name, local folder (a training output folder too), .gguf file or packaged short name")
    opt("--output", help="output folder, required with --model (resumed when it already holds samples)")
    opt(
        "--benchmarks",
        default=DEFAULT_BENCHMARK,
        help=f"comma list: built-in names, .jsonl/.parquet files, generated:... specs (default: {DEFAULT_BENCHMARK})",
    )
    opt("--compare", nargs=2, metavar=("DIR_A", "DIR_B"), help="print the results of two output folders with deltas")
    opt(
        "--regrade",
        metavar="DIR",
        help="re-grade every sample of an output folder with this grader, rewrite its summary",
    )
    opt(
        "--extraction",
        default=None,
        choices=("boxed", "text"),
        help="how a completion's answer is read: boxed (the last \\boxed{}, as the training reward and Oat-Zero "
        "read; the default) or text (the final box, several boxes of one answer together, else the answer the "
        "text states, as math-verify, lighteval and the Qwen2.5-Math harness read). With --regrade: the "
        "folder's own reading unless given",
    )
    opt("--limit", type=int, default=None, help="evaluate the first N problems of each benchmark")
    opt("--n", type=int, default=1, help="samples per problem (default 1)")
    opt(
        "--k",
        default=None,
        help="comma list of k shown in the table (pass@k and maj@k for every k <= n are in summary.json)",
    )
    opt("--temperature", type=float, default=0.0, help="0 = greedy")
    opt("--top-p", type=float, default=1.0, help="nucleus sampling (default 1.0)")
    opt(
        "--max-new-tokens",
        type=int,
        default=DEFAULT_MAX_NEW_TOKENS,
        help=f"completion limit in tokens (default {DEFAULT_MAX_NEW_TOKENS}, as Oat-Zero; on a CPU a 135M model "
        "writes about 10 tokens/s per sequence, so try 256 for a quick look)",
    )
    opt("--seed", type=int, default=0, help="sampling seed (default 0)")
    opt(
        "--template",
        default=None,
        help="prompt template (default: from the training run's record: the model's folder, or the run folder the "
        "--output folder sits in; else the training default)",
    )
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
    """One-line errors for impossible settings; returns the k values the table shows."""
    if not args.model or not args.output:
        raise UserError("--model and --output are required (or use --compare DIR_A DIR_B, or --regrade DIR)")
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
    from mathgrpo.evaluation.metrics import default_ks

    if args.k is None:
        return default_ks(args.n)
    try:
        ks = sorted({int(k) for k in str(args.k).replace(" ", ",").split(",") if k})
    except ValueError:
        raise UserError(f"--k must be a comma list of integers (got {args.k!r})") from None
    if not ks or ks[0] < 1 or ks[-1] > args.n:
        raise UserError(f"--k values must be between 1 and --n ({args.n}); got {args.k!r}")
    return ks


def resolve_template(
    model_arg: str, model_path: str, explicit: str | None, output: str | None = None
) -> tuple[str, str]:
    """(template name, where it came from): --template, else a training run's record -- the model
    folder's, its parent's (a checkpoint-N folder), or that of the run folder the output folder sits
    in (``mathgrpo eval --model BASE --output RUN/eval-base`` evaluates the base model as the run
    trained it) -- else the training default."""
    from mathgrpo.data.templates import DEFAULT_TEMPLATE, get_template

    if explicit:
        get_template(explicit)
        return explicit, "--template"
    local = [Path(p).expanduser() for p in (model_path, model_arg) if Path(p).expanduser().is_dir()]
    folders = [f for path in local for f in (path, path.parent)]
    if output:
        folders.append(Path(output).expanduser().resolve().parent)
    for folder in folders:
        record = folder / RUN_FILE
        if record.is_file():
            try:
                name = json.loads(record.read_text())["template"]
            except (OSError, ValueError, KeyError, TypeError):
                raise UserError(f"{record} has no readable 'template'; pass --template NAME") from None
            get_template(name)
            return name, str(record)
    return DEFAULT_TEMPLATE, "the training default"


def model_identity(model_arg: str) -> str:
    """The model as recorded in settings: local paths absolute, so ``./run`` and ``run`` agree."""
    path = Path(model_arg).expanduser()
    return str(path.resolve()) if path.exists() else model_arg


# --------------------------------------------------------------------------- the run


def load_tasks(args, tokenizer, template) -> list[dict]:
    """One task per benchmark: its label, problems, golds, ids, rendered prompts, and the level and
    subject of each problem where the benchmark has them (MATH-500)."""
    from mathgrpo.evaluation.benchmarks import benchmark_label, breakdowns_of, load_benchmark

    tasks, seen = [], set()
    for name in [b.strip() for b in args.benchmarks.split(",") if b.strip()]:
        label = benchmark_label(name)
        if label in seen:
            raise UserError(f"benchmark {label} is listed twice in --benchmarks")
        seen.add(label)
        ds = load_benchmark(
            name,
            data_dir=args.data_dir,
            limit=args.limit,
            problem_field=args.problem_field,
            answer_field=args.answer_field,
        )
        prompts = [template.render(p, tokenizer) for p in ds["problem"]]
        extra = {k: ds[k] for k in breakdowns_of(name) if k in ds.column_names}
        # A benchmark with several golds per problem carries them all in `answers` (any may match).
        golds = ds["answers"] if "answers" in ds.column_names else ds["answer"]
        tasks.append({"label": label, "ids": ds["id"], "answers": golds, "prompts": prompts, "extra": extra})
        log.info("%s: %d problems", label, len(ds))
    if not tasks:
        raise UserError("--benchmarks is empty; name at least one benchmark")
    return tasks


def summarize_run(args, settings, ks, tasks, records: dict, template_source: str) -> dict:
    from mathgrpo.evaluation.metrics import average, oat_zero_average, summarize
    from mathgrpo.grading import GRADER_VERSION

    per_benchmark = {}
    for task in tasks:
        wanted = [records[(task["label"], pid, s)] for pid in task["ids"] for s in range(args.n)]
        per_benchmark[task["label"]] = summarize(wanted, n=args.n, breakdowns=tuple(task["extra"]))
    return {
        "settings": settings,
        "run": {
            "n": args.n,
            "ks": ks,
            "limit": args.limit,
            "template_from": template_source,
            "benchmarks": [t["label"] for t in tasks],
            "grader": GRADER_VERSION,
            "extraction": args.extraction,
        },
        "benchmarks": per_benchmark,
        "average": average(per_benchmark) if len(per_benchmark) > 1 else {},
        "oat_zero_average": oat_zero_average(per_benchmark),
    }


def read_summary(folder: str) -> dict:
    path = Path(folder).expanduser() / EVAL_SUMMARY
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} not found; run `mathgrpo eval --output {folder}` first") from None
    except (OSError, ValueError):
        raise UserError(f"{path} is not readable JSON; rerun the evaluation into that folder") from None


def compare(dir_a: str, dir_b: str) -> str:
    """The table of two output folders (e.g. base vs trained) with deltas."""
    from mathgrpo.evaluation.metrics import compare_markdown

    return compare_markdown(read_summary(dir_a), read_summary(dir_b), dir_a, dir_b)


def run(args) -> dict:
    from mathgrpo.data.templates import get_template
    from mathgrpo.models import load_error, load_tokenizer, resolve_model, stop_token_ids

    ks = check_args(args)
    args.extraction = getattr(args, "extraction", None) or "boxed"  # the default reading: see docs/evaluation.md
    folder = EvalFolder(Path(args.output).expanduser())
    # The model is checked before the output folder is made: a wrong --model leaves nothing behind.
    model_path = resolve_model(args.model, field="--model")
    template_name, source = resolve_template(args.model, model_path, args.template, args.output)
    log.info("template: %s (from %s)", template_name, source)
    try:
        tokenizer = load_tokenizer(model_path, trust_remote_code=args.trust_remote_code)
    except (OSError, ValueError) as err:  # a hub model without tokenizer files, a broken folder
        raise load_error(args.model, err, "--model") from None
    with folder.writing():
        import torch

        gen = GenerationSettings.from_namespace(args)
        backend, dtype = resolve_generation(gen, torch.cuda.is_available())
        settings = {
            "model": model_identity(args.model),
            "template": template_name,
            "temperature": args.temperature,
            "top_p": args.top_p,
            "max_new_tokens": args.max_new_tokens,
            "seed": args.seed,
            "stop_token_ids": stop_token_ids(tokenizer),
            "backend": backend,
            "dtype": dtype,
        }
        done = folder.open(settings)
        tasks = load_tasks(args, tokenizer, get_template(template_name))
        generate_missing(gen, tasks, tokenizer, model_path, folder, done)
        records = folder.read()
        folder.regrade(records, extraction=args.extraction)
        summary = summarize_run(args, settings, ks, tasks, records, source)
        write_summary(folder.path, summary)
    return summary


def write_summary(out: Path, summary: dict) -> None:
    from mathgrpo.evaluation.metrics import results_markdown

    write_atomic(out / EVAL_SUMMARY, json.dumps(summary, indent=2))
    write_atomic(out / EVAL_TABLE, results_markdown(summary))


def regrade(directory: str, extraction: str | None = None) -> dict:
    """Re-grade every sample of a finished output folder under this grader and the folder's reading
    (or ``extraction``); rewrite its summary."""
    from mathgrpo.evaluation.benchmarks import breakdowns_of
    from mathgrpo.evaluation.metrics import average, oat_zero_average, summarize

    folder = EvalFolder(Path(directory).expanduser())
    old = read_summary(directory)
    with folder.writing():
        records = folder.read()
        if not records:
            raise UserError(f"{folder.samples_path} holds no samples; nothing to re-grade")
        extraction = extraction or old["run"].get("extraction", "boxed")
        folder.regrade(records, everything=True, extraction=extraction)
        from mathgrpo.grading import GRADER_VERSION

        n = old["run"]["n"]
        per_benchmark = {}
        for label in old["benchmarks"]:
            per_benchmark[label] = summarize(
                [r for r in records.values() if r["benchmark"] == label], n=n, breakdowns=breakdowns_of(label)
            )
        old.update(
            benchmarks=per_benchmark,
            average=average(per_benchmark) if len(per_benchmark) > 1 else {},
            oat_zero_average=oat_zero_average(per_benchmark),
        )
        old["run"]["grader"] = GRADER_VERSION
        old["run"]["extraction"] = extraction
        write_summary(folder.path, old)
    return old


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(normalize_flags(list(sys.argv[1:] if argv is None else argv), parser))
    from mathgrpo.evaluation.metrics import results_markdown

    if args.compare:
        print(compare(*args.compare))  # noqa: T201 - the verb's result
        return 0
    summary = regrade(args.regrade, args.extraction) if args.regrade else run(args)
    print(results_markdown(summary))  # noqa: T201 - the verb's result
    return 0
