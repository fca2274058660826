"""What the capture gateway has done since it started, read by its metrics at scrape time."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class CaptureStats:
    """Documents accepted and refused, events published, jobs failed after acceptance.

    Updated by the HTTP handlers and the capture thread; read by the metrics thread.
    """

    #: Documents answered 202 (read whole, a capture job started).
    accepted: int = 0
    #: EPCIS events in those documents.
    epcis_events: int = 0
    #: Custody events the broker acknowledged (one per EPC of an accepted document).
    published: int = 0
    #: Capture jobs that failed after their 202 (the broker did not acknowledge).
    failed: int = 0
    #: Documents refused, by GS1 exception name (``ValidationException``, …).
    refused: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def accept(self, epcis_events: int) -> None:
        with self._lock:
            self.accepted += 1
            self.epcis_events += epcis_events

    def publish(self, custody_events: int) -> None:
        with self._lock:
            self.published += custody_events

    def fail(self) -> None:
        with self._lock:
            self.failed += 1

    def refuse(self, problem_type: str) -> None:
        """``problem_type``: the problem's GS1 type, e.g. ``epcisException:…Exception``."""
        with self._lock:
            self.refused[problem_type.rpartition(":")[2]] += 1

    def snapshot(self) -> tuple[int, int, int, int, dict[str, int]]:
        with self._lock:
            return (
                self.accepted,
                self.epcis_events,
                self.published,
                self.failed,
                dict(self.refused),
            )
