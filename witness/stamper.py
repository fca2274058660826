"""Public timestamps of the anchor's checkpoints, made beside sealing, never in its way.

The anchor offers every checkpoint it signs (:meth:`CheckpointStamper.offer`); the stamper
keeps the latest and, at most once per ``interval`` seconds, saves its *body* (the signed
text without signature lines: the same bytes in every copy of the note, however many
cosignatures a copy carries; docs/witnesses.md) as ``<directory>/checkpoint-<size>`` and
submits its SHA-256 to the configured OpenTimestamps calendars, writing
``checkpoint-<size>.ots`` beside it (:mod:`witness.timestamps`). A
checkpoint commits to every earlier block (``prev_hash`` and the accumulator), so one
timestamp on checkpoint N dates blocks 0..N-1: stamping the latest checkpoint each interval
dates everything sealed without a file per block. Every ``upgrade_interval`` seconds the
pending proofs are upgraded from the calendars; a complete one (a Bitcoin attestation) is
not asked again. A calendar that is down costs its timeout on the stamper's thread only;
the offered checkpoint stays offered and is stamped on the next round.

Check one offline: ``assay ots verify <dir>/checkpoint-<size>.ots --block-header HEX``, or a
proof bundle proven at that checkpoint: ``assay verify BUNDLE --ots FILE --block-header HEX``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from witness.errors import NoteError, TimestampError
from witness.note import parse_note
from witness.timestamps import (
    ots_path_for,
    stamp_file,
    upgrade_file,
    write_atomically,
)

log = logging.getLogger(__name__)
_NAME = re.compile(r"checkpoint-([1-9][0-9]*)")


@dataclass
class StamperStatus:
    """What the stamper has done: for `assay status`, metrics and tests."""

    stamped: int = 0
    upgraded: int = 0
    complete: int = 0
    failures: int = 0
    last_error: str = ""
    stamped_sizes: list[int] = field(default_factory=list)


class CheckpointStamper:
    def __init__(
        self,
        directory: Path,
        calendars: Sequence[str],
        *,
        interval: float = 60.0,
        upgrade_interval: float = 600.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not calendars:
            raise ValueError("no OpenTimestamps calendar configured")
        self.directory = directory
        self.calendars = tuple(calendars)
        self.interval = interval
        self.upgrade_interval = upgrade_interval
        self.timeout = timeout
        self.clock = clock
        self.status = StamperStatus()
        self._offered: tuple[int, str] | None = None
        self._last_stamp = float("-inf")
        self._last_upgrade = clock()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._complete: set[str] = set()
        directory.mkdir(parents=True, exist_ok=True)

    # ----- the anchor's side -------------------------------------------------------------

    def offer(self, checkpoint_text: str) -> None:
        """Keep this checkpoint as the next to stamp (a larger one replaces a smaller)."""
        size = _size_of(checkpoint_text)
        try:
            body = parse_note(checkpoint_text).text
        except NoteError:
            body = None
        if size is None or body is None:
            log.warning("ots: not a checkpoint note, not stamped: %.60r", checkpoint_text)
            return
        with self._wake:
            if self._offered is None or size >= self._offered[0]:
                self._offered = (size, body)
            self._wake.notify()

    # ----- the work ----------------------------------------------------------------------

    def run_once(self) -> None:
        """Stamp the offered checkpoint if the interval has passed; upgrade if due."""
        now = self.clock()
        with self._wake:
            offered = self._offered if now - self._last_stamp >= self.interval else None
        if offered is not None:
            self._stamp(*offered)
        if now - self._last_upgrade >= self.upgrade_interval:
            self._last_upgrade = now
            self.upgrade_pending()

    def upgrade_pending(self) -> int:
        """Upgrade every pending proof in the directory; returns how many are complete now."""
        done = 0
        for ots in sorted(self.directory.glob("checkpoint-*.ots")):
            if ots.name in self._complete:
                continue
            try:
                result = upgrade_file(ots, self.calendars, timeout=self.timeout)
            except (TimestampError, OSError) as e:
                self._failed(f"upgrade {ots.name}: {e}")
                continue
            if result.changed:
                self.status.upgraded += 1
            if result.complete and not result.pending:
                self._complete.add(ots.name)  # nothing left to ask any calendar
                self.status.complete += 1
                done += 1
        return done

    def _stamp(self, size: int, text: str) -> None:
        target = self.directory / f"checkpoint-{size}"
        try:
            if not ots_path_for(target).exists():
                write_atomically(target, text.encode("utf-8"))
                result = stamp_file(target, self.calendars, timeout=self.timeout)
                for url, why in result.failures.items():
                    log.warning("ots: calendar %s refused checkpoint %d: %s", url, size, why)
                self.status.stamped += 1
                self.status.stamped_sizes.append(size)
                taken = len(result.calendars)
                log.info("ots: checkpoint %d stamped by %d calendar(s)", size, taken)
        except (TimestampError, OSError) as e:
            self._failed(f"stamp checkpoint {size}: {e}")
            return  # stays offered: the next round tries again
        self._last_stamp = self.clock()
        with self._wake:
            if self._offered is not None and self._offered[0] == size:
                self._offered = None

    def _failed(self, what: str) -> None:
        self.status.failures += 1
        self.status.last_error = what
        log.warning("ots: %s", what)

    # ----- the thread --------------------------------------------------------------------

    def start(self) -> CheckpointStamper:
        self._thread = threading.Thread(target=self._loop, name="ots-stamper", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current calendar request (each is bounded by ``timeout``)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                self._wake.wait(timeout=self._seconds_to_next())
                if self._stopping:
                    return
            try:
                self.run_once()
            except Exception as e:  # never let the thread die silently
                self._failed(f"unexpected: {type(e).__name__}: {e}")

    def _seconds_to_next(self) -> float:
        now = self.clock()
        upgrade_in = self._last_upgrade + self.upgrade_interval - now
        if self._offered is None:
            return max(0.05, upgrade_in)
        return max(0.05, min(upgrade_in, self._last_stamp + self.interval - now))


def stamped_checkpoints(directory: Path) -> list[int]:
    """Sizes of the checkpoints stamped in ``directory``, ascending."""
    sizes = []
    for path in directory.glob("checkpoint-*.ots"):
        match = _NAME.fullmatch(path.name.removesuffix(".ots"))
        if match:
            sizes.append(int(match.group(1)))
    return sorted(sizes)


def _size_of(checkpoint_text: str) -> int | None:
    lines = checkpoint_text.split("\n", 2)
    if len(lines) < 3 or not _NAME.fullmatch(f"checkpoint-{lines[1]}"):
        return None
    return int(lines[1])
