"""Training checks made before a model or a row is loaded: the hub-token rule, the optimizers that
need bitsandbytes, and the attention implementation against the weights' dtype.

Usage: ``hub_token_rule(args)``; ``check_optimizer(args.optim)``; ``check_attention(model_args, args)``
"""

from __future__ import annotations

import importlib.util
import logging
import os

from mathgrpo.errors import UserError

log = logging.getLogger(__name__)


def hub_token_rule(args) -> str | None:
    """The recipe's ``hub_token`` wins over ``HF_TOKEN`` (as an explicit ``token=`` wins over the
    environment in huggingface_hub): it is moved into ``HF_TOKEN`` for this process, where
    huggingface_hub reads it, and taken off ``args``, because Trainer pickles its arguments into
    every checkpoint (training_args.bin). When both are set and differ, one warning says which is
    used. Returns where the token comes from: "recipe", "environment" or None."""
    token = getattr(args, "hub_token", None)
    env = os.environ.get("HF_TOKEN")
    if not token:
        return "environment" if env else None
    if env and env != token:
        log.warning("both HF_TOKEN and the recipe's hub_token are set: the recipe's hub_token is used for this run")
    os.environ["HF_TOKEN"] = token
    args.hub_token = None
    return "recipe"


def bnb_optimizers() -> frozenset[str]:
    """The ``optim`` names transformers builds with bitsandbytes, read from its own dispatch table
    (transformers.trainer_optimizer), so a name it adds (``ademamix``...) is never missed."""
    from transformers import trainer_optimizer as opt

    return frozenset(
        str(getattr(name, "value", name))
        for name, handler in opt._OPTIMIZER_HANDLERS.items()
        if handler is opt._get_bitsandbytes_optimizer
    )


def check_optimizer(optim) -> None:
    optim = str(getattr(optim, "value", optim))
    if optim in bnb_optimizers() and importlib.util.find_spec("bitsandbytes") is None:
        raise UserError(
            f"optim {optim} needs bitsandbytes, which is not installed: "
            "pip install 'mathgrpo[lowmem]', or set --optim adamw_torch"
        )


# Attention kernels that compute in half precision only (flash-attn's kernels take fp16/bf16 tensors).
HALF_ONLY_ATTENTION = ("flash_attention_2", "flash_attention_3")


def check_attention(model_args, args) -> None:
    """FlashAttention takes fp16/bf16 tensors only; checked against the weights' dtype and
    ``bf16``/``fp16`` before anything loads (docs/scaling.md, "Attention and dtype").

    What reaches attention (measured, transformers 5.25 / accelerate 1.16 / TRL 1.16): with float32
    weights under bf16 autocast, q and k arrive in float32 (RoPE's float32 cos/sin promote the bf16
    projections) and v in bf16, in TRL's log-prob pass (inside ``accelerator.autocast()``) and in
    its transformers generation alike (the model accelerate unwraps for ``generate`` keeps its
    autocast wrapper). transformers' flash-attention path then casts float32 inputs to the autocast
    dtype -- or, with autocast off, to the weights' dtype, float32, which flash-attn refuses. So
    FA2 works with 16-bit weights, or with float32 weights *and* ``bf16``/``fp16`` autocast."""
    impl = getattr(model_args, "attn_implementation", None) or ""
    if impl not in HALF_ONLY_ATTENTION:
        return
    dtype = getattr(model_args, "dtype", None) or "float32"
    autocast = bool(getattr(args, "bf16", False) or getattr(args, "fp16", False))
    if dtype in ("bfloat16", "float16") or autocast:
        return
    if dtype == "auto":
        log.warning(
            "attn_implementation %s with dtype auto and no bf16/fp16 autocast: it works only if the checkpoint "
            "is stored in bf16/fp16; set dtype: bfloat16 or bf16: true to be sure",
            impl,
        )
        return
    raise UserError(
        f"attn_implementation {impl} needs bf16/fp16 tensors, but the weights are {dtype} (field `dtype`) and "
        "bf16/fp16 autocast is off: set bf16: true (float32 weights, bf16 compute), or dtype: bfloat16, "
        "or attn_implementation: sdpa"
    )
