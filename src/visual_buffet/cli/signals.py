"""How the CLI stops: SIGTERM like Ctrl-C, and a closed pipe quietly, as Unix tools do.

The tagging run (:mod:`visual_buffet.tagging`) already ends cleanly on ``KeyboardInterrupt``:
its sinks keep the images finished so far. ``kill PID``, a service manager or a batch
scheduler send SIGTERM instead; Python would die at once and write nothing. Inside
:func:`terminate_as_interrupt`, SIGTERM raises :class:`Terminated`, a ``KeyboardInterrupt``,
so both signals take the same path and differ only in the exit code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + 2, what a shell reports for a process ended by SIGINT."""
EXIT_TERMINATED = 128 + signal.SIGTERM
"""SIGTERM: 143, what a shell reports for a process ended by SIGTERM."""
EXIT_PIPE_CLOSED = 128 + 13
"""The reader of stdout went away (SIGPIPE's 141, as ``head``'s writers report it)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, handled like Ctrl-C."""

    exit_code = EXIT_TERMINATED


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated`; the old handler comes back after.

    Signal handlers can only be set from the main thread; elsewhere (a test runner's worker
    thread) the block runs without one.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_stdout() -> None:
    """Point stdout at /dev/null: the pipe is closed, and the interpreter's last flush of
    what is still buffered must not print "Exception ignored ... BrokenPipeError"."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
