"""The ``mathgrpo`` command: one verb per job, each verb's code in its own module.

Usage: ``mathgrpo train --config recipes/demo/smollm2-cpu.yaml``

Verbs are imported lazily so that ``mathgrpo grade`` does not pay for importing torch/TRL.
Every verb module exposes ``main(argv: list[str]) -> int``.
"""

from __future__ import annotations

import importlib
import logging
import sys

from mathgrpo.errors import UserError

VERBS: dict[str, tuple[str, str]] = {
    "train": ("mathgrpo.train.run", "GRPO training (TRL) from a recipe; every field overridable"),
    "prepare-data": ("mathgrpo.train.prepare", "normalise, deduplicate and filter a dataset into a file"),
    "grade": ("mathgrpo.train.grade", "re-grade saved completions with the training grader"),
    "eval": ("mathgrpo.evaluation.evaluate", "benchmark a base or trained model (pass@k, maj@k)"),
    "report": ("mathgrpo.report.cli", "plots, samples and a summary page for a run folder"),
}


def _usage() -> str:
    lines = ["usage: mathgrpo VERB [options]   (mathgrpo VERB --help for each)", "", "verbs:"]
    lines += [f"  {name:<14}{help_}" for name, (_, help_) in VERBS.items()]
    return "\n".join(lines)


class _CpuKernelNotice(logging.Filter):
    """bitsandbytes (the `lowmem` extra, installed with `dev`) warns at import, on every machine without
    its optional CPU 4-bit kernels, that it could not load them from the kernels hub. mathgrpo never
    runs 4-bit layers on a CPU (bitsandbytes serves only the 8-bit optimizers, on GPUs), so the notice
    says nothing about a mathgrpo run, and it would come before every one-line error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to load CPU gemm_4bit_forward" not in record.getMessage()


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_CpuKernelNotice())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())  # noqa: T201
        return 0
    if argv[0] in ("-V", "--version"):
        from mathgrpo import __version__

        print(__version__)  # noqa: T201
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"mathgrpo: unknown verb {verb!r}; choose one of: {', '.join(VERBS)}", file=sys.stderr)  # noqa: T201
        return 2
    setup_logging()
    module = importlib.import_module(VERBS[verb][0])
    try:
        return int(module.main(rest) or 0)
    except UserError as err:
        print(f"mathgrpo {verb}: error: {err}", file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        print(f"mathgrpo {verb}: interrupted", file=sys.stderr)  # noqa: T201
        return 130


if __name__ == "__main__":
    sys.exit(main())
