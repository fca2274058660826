"""Prometheus metrics of the long-running processes (``--metrics-port`` / ``metrics_port``).

Collectors read, at scrape time, what the processes already keep: the ingest's
:class:`streams.ingest.IngestStats` and its consumer's high watermarks, the anchor's head
and counters, the projector's counters and snapshot file, outboxes, and the EPCIS
gateway's capture statistics. The duration histograms are fed as things happen, through
the ingest's and the anchor's observer hooks and, for the HTTP servers of the witness and
the gateway, a request middleware (:mod:`assay.metrics_http`). Every metric is listed in
the README ("Operating it").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from assay.metrics_errors import MetricsError

# assay.metrics_http (starlette) only for the HTTP servers, which wrap their app.
if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp

    from anchoring.sealer import Anchor
    from assay.metrics_http import Outcome, RequestMetrics
    from epcis.gateway import Gateway
    from projections.projector import Projector
    from streams.ingest import Ingest
    from streams.outbox import Outbox
    from streams.sender import OutboxSender
    from witness.submitter import CheckpointWitnessing

log = logging.getLogger(__name__)

BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: The witness's refusals of ``add-checkpoint`` by status (C2SP tlog-witness; witness.core).
WITNESS_REFUSALS = {
    400: "malformed",
    403: "unverified",
    404: "unknown_log",
    409: "size_conflict",
    413: "too_large",
    422: "inconsistent",
}


class _Collect(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except Exception as e:  # a scrape must never take the process down
            log.debug("metrics collection failed: %s", e)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class Metrics:
    """One process's registry; ``watch_*`` adds what it runs, ``serve`` exposes it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.batch_seconds = Histogram(
            "assay_ingest_batch_seconds",
            "Time to verify, apply and store one partition batch",
            registry=self.registry,
            buckets=BATCH_BUCKETS,
        )
        self.seal_seconds = Histogram(
            "assay_anchor_seal_seconds",
            "Time to seal one block (leaves, tree, header, one chain transaction)",
            registry=self.registry,
            buckets=BATCH_BUCKETS,
        )
        self._server: WSGIServer | None = None
        self._http: RequestMetrics | None = None

    def watch_ingest(self, ingest: Ingest) -> None:
        ingest.batch_observers.append(lambda seconds, _records: self.batch_seconds.observe(seconds))
        self.registry.register(_Collect(lambda: ingest_metrics(ingest)))

    def watch_anchor(self, anchor: Anchor) -> None:
        anchor.seal_observers.append(lambda seconds, _leaves: self.seal_seconds.observe(seconds))
        self.registry.register(_Collect(lambda: anchor_metrics(anchor)))

    def watch_witnessing(self, witnessing: CheckpointWitnessing) -> None:
        """The anchor's witnesses: cosignatures, failures, checkpoint → cosigned latency."""
        from witness.witnessing_metrics import witnessing_metrics

        cosign_seconds = Histogram(
            "assay_checkpoint_cosign_seconds",
            "Time from a checkpoint signed to its publication with the cosignatures collected",
            registry=self.registry,
            buckets=BATCH_BUCKETS,
        )
        witnessing.observers.append(lambda seconds, _round: cosign_seconds.observe(seconds))
        self.registry.register(_Collect(lambda: witnessing_metrics(witnessing)))

    def watch_projector(self, projector: Projector) -> None:
        self.registry.register(_Collect(lambda: projector_metrics(projector)))

    def watch_snapshot(self, snapshot: Path) -> None:
        self.registry.register(_Collect(lambda: [snapshot_age(snapshot)]))

    def watch_outbox(self, name: str, outbox: Outbox, sender: OutboxSender | None) -> None:
        self.registry.register(_Collect(lambda: outbox_metrics(name, outbox, sender)))

    def wrap_http(
        self,
        app: ASGIApp,
        server: str,
        routes: Sequence[BaseRoute],
        outcomes: Sequence[Outcome] = (),
    ) -> ASGIApp:
        """``app`` with its requests counted and timed (``assay_http_*{server=…}``)."""
        if self._http is None:
            from assay.metrics_http import RequestMetrics

            self._http = RequestMetrics(self.registry)
        return self._http.wrap(app, server, routes, outcomes)

    def watch_witness(self, add_checkpoint_path: str) -> Outcome:
        """Cosignatures issued and checkpoints refused, told by ``add-checkpoint`` replies
        (give the returned outcome to :meth:`wrap_http`)."""
        issued = Counter(
            "assay_witness_cosignatures_issued",
            "Checkpoints cosigned (add-checkpoint answered 200)",
            registry=self.registry,
        )
        refused = Counter(
            "assay_witness_checkpoints_refused",
            "add-checkpoint requests refused, by the protocol's reason",
            ["code"],
            registry=self.registry,
        )

        def outcome(route: str, method: str, status: int) -> None:
            if route != add_checkpoint_path or method != "POST":
                return
            if status == 200:
                issued.inc()
            else:
                refused.labels(WITNESS_REFUSALS.get(status, f"http_{status}")).inc()

        return outcome

    def watch_gateway(self, gateway: Gateway) -> None:
        self.registry.register(_Collect(lambda: gateway_metrics(gateway)))

    def serve(self, host: str, port: int) -> Metrics:
        try:
            self._server, _thread = start_http_server(port, host, registry=self.registry)
        except OSError as e:
            raise MetricsError(f"metrics endpoint cannot listen on {host}:{port}: {e}") from None
        log.info("metrics at http://%s:%d/metrics", host, port)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def ingest_metrics(ingest: Ingest) -> Iterator[Metric]:
    s = ingest.stats
    yield _counter("assay_ingest_events_consumed", "Messages read and committed", s.consumed)
    yield _counter("assay_ingest_events_accepted", "Events accepted into the ledger", s.accepted)
    yield _counter("assay_ingest_events_flagged", "Events kept as counterfeit signals", s.flagged)
    yield _counter("assay_ingest_events_duplicate", "Events already recorded", s.duplicates)
    rejected = CounterMetricFamily(
        "assay_ingest_events_rejected", "Messages sent to the dead-letter topic", labels=["code"]
    )
    for code, count in sorted(dict(s.rejected_codes).items()):
        rejected.add_metric([code], count)
    yield rejected
    yield _counter("assay_ingest_batches", "Partition batches committed", s.batches)
    yield _counter("assay_ingest_retries", "Batches re-read after a conflict", s.retries)
    yield _counter("assay_ingest_rejoins", "Times the worker rejoined its group", s.rejoins)
    yield _counter(
        "assay_ingest_dead_letters_written",
        "Dead letters the broker acknowledged",
        ingest.dead_letters.delivered,
    )
    lag = GaugeMetricFamily(
        "assay_ingest_consumer_lag",
        "Messages on a partition this worker owns that are not stored yet",
        labels=["topic", "partition"],
    )
    assigned = sorted(ingest.consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
    from streams.ingest import tracking_name

    for tp in assigned:
        high = ingest.consumer.highwater(tp)
        if high is None:
            continue  # no fetch answered yet
        recorded = ingest.ledger.position(tracking_name(tp.topic, tp.partition))
        stored = 0 if recorded is None else recorded + 1
        lag.add_metric([tp.topic, str(tp.partition)], max(0, high - stored))
    yield lag
    yield _gauge("assay_ingest_assigned_partitions", "Partitions this worker owns", len(assigned))


def _age_of(sealed_at: str) -> float:
    when = datetime.fromisoformat(sealed_at.replace("Z", "+00:00"))
    return max(0.0, time.time() - when.timestamp())


def anchor_metrics(anchor: Anchor) -> Iterator[Metric]:
    head = anchor.head
    yield _gauge("assay_anchor_head_height", "Height of the newest block (-1: none)",
                 head.height if head else -1)  # fmt: skip
    yield _counter("assay_anchor_events_sealed", "Events sealed into blocks", anchor.sealed_events)
    yield _counter("assay_anchor_seal_conflicts", "Seals lost to another anchor", anchor.conflicts)
    yield _gauge("assay_anchor_pending_notifications", "Ledger notifications fetched, not sealed",
                 len(anchor.pending))  # fmt: skip
    if head is not None:
        yield _gauge(
            "assay_checkpoint_age_seconds",
            "Seconds since the newest block (and its signed checkpoint) was sealed",
            _age_of(head.sealed_at),
        )


def projector_metrics(projector: Projector) -> Iterator[Metric]:
    yield _counter(
        "assay_projection_notifications",
        "Ledger and chain notifications projected into DuckDB",
        projector.projected,
    )
    yield snapshot_age(projector.snapshot_path)


def snapshot_age(path: Path) -> Metric:
    """The analyst snapshot's age: it is replaced whole, so its mtime is when it was taken."""
    try:
        age = max(0.0, time.time() - path.stat().st_mtime)
    except OSError:
        age = float("nan")
    return _gauge("assay_snapshot_age_seconds", "Seconds since the analyst snapshot was taken", age)


def outbox_metrics(name: str, outbox: Outbox, sender: OutboxSender | None) -> Iterator[Metric]:
    state = outbox.state(failures=0)
    labels: list[Any] = [name]

    def labelled(kind: type[Any], metric: str, doc: str, value: float) -> Metric:
        family = kind(metric, doc, labels=["outbox"])
        family.add_metric(labels, value)
        return family  # type: ignore[no-any-return]

    yield labelled(GaugeMetricFamily, "assay_outbox_depth", "Messages waiting to be sent",
                   state.pending)  # fmt: skip
    yield labelled(GaugeMetricFamily, "assay_outbox_failed", "Messages the broker refused",
                   state.failed)  # fmt: skip
    age = state.age()
    yield labelled(GaugeMetricFamily, "assay_outbox_oldest_age_seconds",
                   "Age of the oldest waiting message", 0.0 if age is None else age)  # fmt: skip
    if sender is not None:
        yield labelled(CounterMetricFamily, "assay_outbox_sent",
                       "Messages acknowledged by the broker", sender.sent)  # fmt: skip


def gateway_metrics(gateway: Gateway) -> Iterator[Metric]:
    accepted, epcis_events, published, failed, refused = gateway.stats.snapshot()
    yield _counter("assay_epcis_captures_accepted", "Documents accepted (202)", accepted)
    yield _counter("assay_epcis_events_accepted", "EPCIS events in accepted documents",
                   epcis_events)  # fmt: skip
    yield _counter("assay_epcis_custody_events_published",
                   "Custody events signed and acknowledged by the broker", published)  # fmt: skip
    yield _counter("assay_epcis_captures_failed",
                   "Accepted documents whose events the broker did not acknowledge",
                   failed)  # fmt: skip
    family = CounterMetricFamily(
        "assay_epcis_captures_rejected",
        "Documents refused, nothing published, by GS1 exception",
        labels=["code"],
    )
    for code, count in sorted(refused.items()):
        family.add_metric([code], count)
    yield family
