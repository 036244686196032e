"""Offline Qwen2.5 tokenizer, stop tokens, and model references (GGUF, packaged, hub names)."""

import pytest

from mathgrpo.errors import UserError
from mathgrpo.models import QWEN25_SPECIAL_TOKENS, resolve_model, stop_token_ids


def test_qwen_tokenizer_matches_qwen25(qwen_tokenizer):
    assert len(qwen_tokenizer) == 151643 + 22
    assert qwen_tokenizer.convert_tokens_to_ids("<|endoftext|>") == 151643
    assert qwen_tokenizer.convert_tokens_to_ids("<|im_end|>") == 151645
    assert qwen_tokenizer.convert_tokens_to_ids(QWEN25_SPECIAL_TOKENS[-1]) == 151664
    # Known Qwen2 ids; digits are split one by one as in Qwen2.5.
    assert qwen_tokenizer("Hello world").input_ids == [9707, 1879]
    assert qwen_tokenizer("123").input_ids == [16, 17, 18]
    text = "Résumé: 你好, \\boxed{42}"
    assert qwen_tokenizer.decode(qwen_tokenizer(text).input_ids) == text


def test_qwen_stop_tokens_include_im_end_and_endoftext(qwen_tokenizer):
    ids = stop_token_ids(qwen_tokenizer)
    assert 151645 in ids and 151643 in ids


def test_stop_tokens_applied_to_model(tiny_qwen_dir):
    from transformers import AutoModelForCausalLM

    from mathgrpo.models import apply_stop_tokens, load_tokenizer

    tok = load_tokenizer(str(tiny_qwen_dir))
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir)
    apply_stop_tokens(model, tok)
    assert set(model.generation_config.eos_token_id) >= {151643, 151645}


def test_hub_names_and_folders_pass_through(tmp_path):
    assert resolve_model("Qwen/Qwen2.5-Math-1.5B") == "Qwen/Qwen2.5-Math-1.5B"
    assert resolve_model(str(tmp_path)) == str(tmp_path)


def test_missing_gguf_file_is_one_line_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        resolve_model(str(tmp_path / "nope.gguf"))
