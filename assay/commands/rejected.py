"""``assay rejected``: list dead letters from custody.rejected."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from assay import runtime
from assay.commands import settings_from

if TYPE_CHECKING:
    from streams.connection import Cluster
    from streams.deadletter import DeadLetter


def register(sub: Any) -> None:
    p = sub.add_parser("rejected", help="list rejected (dead-letter) messages")
    p.add_argument("--limit", type=int, default=50, help="newest N (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=handle)


def read_dead_letters(cluster: Cluster, topic: str, limit: int) -> list[DeadLetter]:
    from kafka import KafkaConsumer, TopicPartition

    from streams.connection import as_connection
    from streams.deadletter import DeadLetter

    consumer = KafkaConsumer(**as_connection(cluster).client_config(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(0, ends[tp] - limit))
        letters: list[DeadLetter] = []
        remaining = {tp: ends[tp] for tp in partitions}
        while any(consumer.position(tp) < end for tp, end in remaining.items()):
            for records in consumer.poll(timeout_ms=1000).values():
                letters.extend(DeadLetter.from_json(r.value) for r in records)
        return letters[-limit:]
    finally:
        consumer.close()


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    letters = read_dead_letters(
        runtime.kafka_bootstrap(settings), settings.rejected_topic, args.limit
    )
    for letter in letters:
        if args.json:
            print(letter.to_json().decode())
        else:
            print(
                f"{letter.topic}:{letter.partition}:{letter.offset}  {letter.code:<22} "
                f"{letter.reason}"
            )
    if not args.json:
        print(f"{len(letters)} rejected message(s) shown")
    return 0
