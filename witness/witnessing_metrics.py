"""Prometheus families of the anchor's witnessing, read at scrape time from its status."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from witness.submitter import CheckpointWitnessing


def witnessing_metrics(witnessing: CheckpointWitnessing) -> Iterator[Metric]:
    status = witnessing.snapshot()
    collected = CounterMetricFamily(
        "assay_witness_cosignatures_collected",
        "Cosignatures the anchor collected, by witness",
        labels=["witness"],
    )
    failures = CounterMetricFamily(
        "assay_witness_submission_failures",
        "Checkpoints a witness did not cosign, by witness and status "
        "(timeout, unreachable, refused_<http status>, ahead, invalid_response, ...)",
        labels=["witness", "status"],
    )
    size = GaugeMetricFamily(
        "assay_witness_cosigned_size",
        "Size of the newest checkpoint the witness cosigned for this anchor",
        labels=["witness"],
    )
    for name, record in sorted(status.witnesses.items()):
        collected.add_metric([name], record.cosignatures)
        size.add_metric([name], record.cosigned_size)
        for label, count in sorted(record.failures.items()):
            failures.add_metric([name, label], count)
    yield collected
    yield failures
    yield size
    yield CounterMetricFamily(
        "assay_checkpoints_superseded",
        "Checkpoints not sent to witnesses because a newer one was signed during a round",
        value=status.superseded,
    )
    yield GaugeMetricFamily(
        "assay_checkpoint_published_size",
        "Size of the newest checkpoint published (with its cosignatures)",
        value=status.published_size,
    )
    yield GaugeMetricFamily(
        "assay_checkpoint_cosignatures",
        "Cosignatures on the newest published checkpoint",
        value=status.published_cosignatures,
    )
    if status.verdict is not None:
        yield GaugeMetricFamily(
            "assay_checkpoint_witness_quorum",
            "1 if the newest published checkpoint meets the witness policy's quorum, else 0",
            value=1 if status.verdict.quorum_met else 0,
        )
