"""Offline Qwen2.5 tokenizer, stop tokens, and model references (GGUF, packaged, hub names)."""

import pytest

from mathgrpo.errors import UserError
from mathgrpo.models import resolve_model, stop_token_ids
from mathgrpo.testing import QWEN25_SPECIAL_TOKENS


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


def test_a_completion_ending_in_im_end_stops_there_in_training_and_is_kept(tiny_qwen_dir, tmp_path):
    """The HF generation path TRL trains with: a model loaded as `mathgrpo train` loads it, from a
    checkpoint whose own generation config stops only at <|endoftext|> (as Qwen2.5-Math's base does),
    and made to say <|im_end|> first, stops at that token; the completion is not truncated, so
    mask_truncated_completions keeps it in the loss."""
    import json
    import shutil
    from types import SimpleNamespace

    import torch
    from trl import GRPOConfig

    from mathgrpo.models import load_tokenizer
    from mathgrpo.train.run import load_policy
    from mathgrpo.train.trainer import Trainer

    base = tmp_path / "base"
    shutil.copytree(tiny_qwen_dir, base)
    config = json.loads((base / "generation_config.json").read_text())
    (base / "generation_config.json").write_text(json.dumps({**config, "eos_token_id": 151643}))
    tok = load_tokenizer(str(base))
    model_args = SimpleNamespace(model_revision=None, dtype="float32", attn_implementation=None)
    model, _ = load_policy(str(base), model_args, SimpleNamespace(trust_remote_code=False), tok)
    # <|im_end|> first: an output layer whose only preference is that token (logit 30 above the rest).
    model.config.tie_word_embeddings = False
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    head.bias.data[151645] = 30.0
    model.lm_head = head

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=5,
        mask_truncated_completions=True,
        report_to=[],
        use_cpu=True,
        seed=0,
    )
    from datasets import Dataset

    trainer = Trainer(
        model=model,
        reward_funcs=[lambda completions, **k: [1.0] * len(completions)],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["Say a."]}),
        processing_class=tok,
    )
    trainer.model.train()
    out = trainer._generate_and_score_completions([{"prompt": "Say a."}] * 2)
    assert out["completion_ids"][:, 0].tolist() == [151645, 151645]
    assert out["completion_mask"].sum(dim=1).tolist() == [1, 1]  # stopped at <|im_end|>, nothing after
    assert trainer._metrics["train"]["completions/clipped_ratio"][-1] == 0.0  # not counted as truncated
    assert out["num_items_in_batch"].item() == 2  # ... so mask_truncated_completions kept both


def test_hub_names_and_folders_pass_through(tmp_path, tiny_qwen_dir, monkeypatch):
    # A hub name in the local hub cache is used as it is, hub or no hub.
    cache = tmp_path / "hub"
    snapshot = cache / "models--Qwen--Qwen2.5-Math-1.5B" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (cache / "models--Qwen--Qwen2.5-Math-1.5B" / "refs").mkdir()
    (cache / "models--Qwen--Qwen2.5-Math-1.5B" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    assert resolve_model("Qwen/Qwen2.5-Math-1.5B") == "Qwen/Qwen2.5-Math-1.5B"
    assert resolve_model(str(tiny_qwen_dir)) == str(tiny_qwen_dir)


def test_unreachable_hub_is_one_line_and_fast(monkeypatch):
    import time

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.process_time()  # this process's CPU: holds on a loaded machine
    with pytest.raises(UserError, match="model_name_or_path 'someone/not-cached'.*cannot be reached") as err:
        resolve_model("someone/not-cached")
    assert "\n" not in str(err.value) and time.process_time() - started < 5
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="HF_HUB_OFFLINE"):
        resolve_model("someone/not-cached")


@pytest.mark.parametrize(
    "case,words",
    [("missing", "not found"), ("empty", "is empty"), ("config only", "no weights"), ("a file", "is a file")],
)
def test_bad_model_folders_are_one_line(tmp_path, case, words):
    path = tmp_path / "model"
    if case == "empty":
        path.mkdir()
    elif case == "config only":
        path.mkdir()
        (path / "config.json").write_text("{}")
    elif case == "a file":
        path.write_text("x")
    with pytest.raises(UserError, match=words):
        resolve_model(str(path))


def test_missing_gguf_file_is_one_line_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        resolve_model(str(tmp_path / "nope.gguf"))
