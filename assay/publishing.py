"""How a long-running command that seals sends its checkpoints out, and stops doing so.

Signed checkpoints leave through an outbox (sealing never waits for the broker) and, with a
witness policy, through the witnessing thread (a slow witness never delays a seal). On a
normal end both are drained; on a signal or an error they stop within the stop timeout,
and what could not be sent stays in the outbox for the next start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay import runtime
from assay.service import Service
from streams.connection import KafkaConnection

if TYPE_CHECKING:
    from streams.outbox import Outbox
    from streams.sender import OutboxSender
    from witness.submitter import CheckpointWitnessing


@dataclass
class Publishing:
    outbox: Outbox
    sender: OutboxSender
    #: Checkpoints still in the outbox once it stopped (known on leaving the block).
    waiting: int = 0


@contextmanager
def checkpoints_published(
    service: Service, connection: KafkaConnection, witnessing: CheckpointWitnessing | None
) -> Iterator[Publishing]:
    settings = service.settings
    outbox, sender = runtime.checkpoint_outbox(settings, connection)
    service.metrics.watch_outbox("checkpoints", outbox, sender)
    if witnessing is not None:
        service.metrics.watch_witnessing(witnessing)
        witnessing.start()
    publishing = Publishing(outbox, sender)
    try:
        yield publishing
        if not service.stopped_by_signal:
            if witnessing is not None:
                witnessing.flush(service.stopper.remaining())
            sender.wait_sent(timeout=settings.stop_timeout)
    finally:
        if witnessing is not None:
            witnessing.stop(service.stopper.remaining())
        publishing.waiting = sender.stop(service.stopper.remaining())
        outbox.close()
