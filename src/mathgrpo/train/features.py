"""Which trainer features a run uses, composed into one trainer class: one row per feature, no chain of
subclasses choosing between them.

Usage: ``cls, kwargs = trainer_class(script_args, args, resume_from)``; then ``cls(model=..., **kwargs)``.

Rows are outermost first: a feature's ``super()._generate_and_score_completions`` runs the rows below
it, so dynamic sampling's rounds are each masked for unknown samples before it judges their groups.
"""

from __future__ import annotations


def trainer_class(script_args, args, resume_from: str | None = None) -> tuple[type, dict]:
    """The composed trainer class for this run and the keyword arguments its features take."""
    from mathgrpo.train.dynamic import DynamicSampling
    from mathgrpo.train.trainer import UnknownSamplesOut, VllmCorrectionShare, compose

    rows = [  # (feature, used by this run)
        (DynamicSampling, bool(script_args.dynamic_sampling)),
        (UnknownSamplesOut, True),
        (VllmCorrectionShare, bool(args.use_vllm)),
    ]
    used = [feature for feature, on in rows if on]
    kwargs = {"print_completions": script_args.print_completions}
    for feature in used:
        if hasattr(feature, "trainer_kwargs"):
            kwargs.update(feature.trainer_kwargs(script_args, args, resume_from))
    return compose(*used), kwargs
