"""The capture gateway's engine: documents are read, then signed and published, one at a
time in arrival order (so each is mapped against the packing its predecessors left).

``submit`` returns once the document is read whole (or raises its ``Problem``): nothing
is published before that. The job then signs every custody event with the gateway's
device key exactly as the scanner SDK does (``streams.envelope.seal``, the scanner's
producer and topic, keyed by item id; acks=all, idempotent), waits for every
acknowledgement, and only then records the job's success together with the packing the
document changed.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field

from epcis.capture import Prepared, Reader
from epcis.problems import Problem
from epcis.stats import CaptureStats
from epcis.store import GatewayStore, problem_entry
from streams.envelope import seal
from streams.producer import DeliveryError
from streams.scanner import Scanner

log = logging.getLogger(__name__)


@dataclass
class _Task:
    body: bytes
    ready: Future[str] = field(default_factory=Future)


class Gateway:
    def __init__(self, reader: Reader, store: GatewayStore, scanner: Scanner) -> None:
        self.reader = reader
        self.store = store
        self.scanner = scanner
        self.stats = CaptureStats()
        self._tasks: queue.Queue[_Task | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="epcis-capture", daemon=True)
        self._worker.start()

    def submit(self, body: bytes) -> str:
        """Read a document; returns its capture id once it is accepted (202), or raises."""
        task = _Task(body)
        self._tasks.put(task)
        return task.ready.result()

    def close(self) -> None:
        self._tasks.put(None)
        self._worker.join()
        self.scanner.close()
        self.store.close()

    def _run(self) -> None:
        while (task := self._tasks.get()) is not None:
            try:
                self._handle(task)
            except Exception as e:  # a bug or a broken disk: a 500 for this document only
                log.exception("capturing a document failed")
                if not task.ready.done():
                    task.ready.set_exception(e)

    def _handle(self, task: _Task) -> None:
        try:
            prepared = self.reader.read(task.body, self.store)
        except Problem as problem:
            task.ready.set_exception(problem)
            return
        capture_id = uuid.uuid4().hex
        self.store.start_job(capture_id, prepared.epcis_events, len(prepared.custody))
        self.stats.accept(prepared.epcis_events)
        task.ready.set_result(capture_id)
        self._publish(capture_id, prepared)

    def _publish(self, capture_id: str, prepared: Prepared) -> None:
        scanner = self.scanner
        producer = scanner.producer  # the gateway's own producer: its jobs are its outbox
        assert producer is not None
        try:
            # Signed first, then sent: sealing between sends competes with the producer's
            # own thread, and took twice as long (bench/bench_epcis.py).
            envelopes = [seal(e, scanner.key, schema_version=scanner.schema_version)
                         for e in prepared.custody]  # fmt: skip
            for event, envelope in zip(prepared.custody, envelopes, strict=True):
                producer.send(scanner.topic, envelope, key=event.item_id.encode())
            scanner.flush()
        except DeliveryError as e:
            log.warning("capture %s: %s", capture_id, e)
            detail = f"{e}; send the document again (its events keep their ids)"
            self.store.fail_job(capture_id, [problem_entry("Events not delivered", detail)])
            self.stats.fail()
            return
        except Exception:
            log.exception("capture %s failed", capture_id)
            detail = "internal error while publishing; send the document again"
            self.store.fail_job(capture_id, [problem_entry("Capture failed", detail)])
            self.stats.fail()
            return
        self.stats.publish(len(envelopes))
        containment = prepared.containment
        self.store.finish_job(capture_id, containment.placed, containment.removed)
