"""How a long-running Assay process stops: promptly, cleanly, with one line.

SIGTERM and SIGINT (Ctrl-C) set one stop event that every loop of the process watches.
The loops drop the batch in hand uncommitted (every write to a store is one transaction,
so it is read again on the next start) or finish it, close their Kafka clients with
bounded waits, and the command prints its one summary line. If they have not returned
``stop_timeout`` seconds after the signal (a call that cannot be interrupted, such as a
client waiting on a broker that does not answer), a watchdog prints one line and ends the
process at once; a second Ctrl-C does the same immediately.

Exit codes after a stop: :data:`EXIT_OK` (0) when nothing was left undone, or
:data:`EXIT_UNSENT` (5) when messages are still waiting in an outbox (they are kept and
sent by the next run).
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

log = logging.getLogger(__name__)

EXIT_OK = 0
#: Work left undone: messages still in an outbox (kept; the next run sends them).
EXIT_UNSENT = 5


class Stopper:
    """The stop request of one process: an event to watch, and a deadline to keep."""

    def __init__(self, command: str, timeout: float, *, forced_code: int = EXIT_OK) -> None:
        self.command = command
        self.timeout = timeout
        #: Exit code when the watchdog has to end the process.
        self.forced_code = forced_code
        self.event = threading.Event()
        self.reason: str | None = None
        self.requested_at: float | None = None
        self._finished = threading.Event()

    def install(self) -> Stopper:
        """Catch SIGTERM and SIGINT (only the main thread may)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        return self

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def request(self, reason: str) -> None:
        """Ask every loop to stop, and start counting ``timeout``."""
        if self.event.is_set():
            return
        self.reason = reason
        self.requested_at = time.monotonic()
        self.event.set()
        threading.Thread(target=self._watch, name="stop-watchdog", daemon=True).start()

    def finished(self) -> None:
        """The process has stopped cleanly: the watchdog stands down."""
        self._finished.set()

    def remaining(self) -> float:
        """Seconds left before the deadline (``timeout`` if no stop was requested)."""
        if self.requested_at is None:
            return self.timeout
        return max(0.0, self.timeout - (time.monotonic() - self.requested_at))

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            if signum == signal.SIGINT:
                self._force(f"second {name}")
            return
        self.request(name)

    def _watch(self) -> None:
        log.info("%s: stopping on %s (within %g s)", self.command, self.reason, self.timeout)
        if not self._finished.wait(self.timeout):
            self._force(f"did not stop within {self.timeout:g} s of {self.reason}")

    def _force(self, why: str) -> None:
        print(
            f"assay {self.command}: {why}; exiting now (nothing half committed: what was in "
            "hand is read again on the next start)",
            file=sys.stderr,
            flush=True,
        )
        if log.isEnabledFor(logging.DEBUG):  # which call did not return, for a bug report
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stdout.flush()
        os._exit(self.forced_code)
