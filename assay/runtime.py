"""Composition root: builds the ledger, chain, Kafka access and keys from Settings.

Every process (CLI, demo, workers, server) wires itself here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from assay.settings import Settings, SettingsError

# The heavy modules (eventsourcing, Kafka, the sealer, the stampers) are imported by the
# functions that use them, so that a command which needs none of them starts quickly.
if TYPE_CHECKING:
    from anchoring.chain import Chain
    from anchoring.checkpoint import Signer, Verifier
    from anchoring.sealer import Anchor
    from ledger.application import CustodyLedger
    from streams.connection import KafkaConnection
    from streams.ingest import Ingest
    from streams.outbox import Outbox
    from streams.producer import Producer
    from streams.sender import OutboxSender
    from witness.stamper import CheckpointStamper
    from witness.submitter import CheckpointWitnessing


def open_ledger(settings: Settings) -> CustodyLedger:
    from ledger.application import CustodyLedger
    from ledger.config import store_env

    return CustodyLedger(
        store_env(settings.database_url, settings.ledger_db, settings.store_lock_timeout)
    )


def open_chain(settings: Settings) -> Chain:
    from anchoring.chain import Chain
    from ledger.config import store_env

    return Chain(store_env(settings.database_url, settings.chain_db, settings.store_lock_timeout))


def kafka_connection(settings: Settings) -> KafkaConnection:
    """The configured cluster with its security settings, or the local (plaintext) broker."""
    from devtools.localbroker import resolve_bootstrap
    from streams.connection import KafkaConnection

    bootstrap = resolve_bootstrap(settings)
    if settings.uses_local_broker:
        return KafkaConnection(bootstrap)  # loopback development broker: PLAINTEXT only
    return KafkaConnection(bootstrap, tuple(settings.kafka_security().items()))


def kafka_bootstrap(settings: Settings) -> KafkaConnection:
    """The cluster to use (starting the local broker if none is configured), topics ready."""
    bootstrap = kafka_connection(settings)
    ensure_custody_topics(settings, bootstrap)
    return bootstrap


def ensure_custody_topics(settings: Settings, connection: KafkaConnection) -> None:
    from streams.topics import custody_topics, ensure_topics

    ensure_topics(
        connection,
        custody_topics(
            settings.events_topic,
            settings.rejected_topic,
            settings.checkpoints_topic,
            settings.partitions,
        ),
    )


def outbox_sender(
    settings: Settings, outbox: Outbox, connection: KafkaConnection, name: str
) -> OutboxSender:
    """A started sender for ``outbox`` that creates the custody topics once it connects."""
    from streams.sender import OutboxSender

    return OutboxSender(
        outbox, connection, name=name, prepare=lambda c: ensure_custody_topics(settings, c)
    ).start()


def checkpoint_outbox(
    settings: Settings, connection: KafkaConnection
) -> tuple[Outbox, OutboxSender]:
    """The anchor's outbox of signed checkpoints and its (started) sender."""
    from streams.outbox import Outbox

    outbox = Outbox(settings.checkpoint_outbox_path)
    return outbox, outbox_sender(settings, outbox, connection, "checkpoints")


def make_ingest(settings: Settings, bootstrap: KafkaConnection | str) -> Ingest:
    """An ingest worker of the configured consumer group (one per process or thread)."""
    from streams.ingest import Ingest, tune_collector

    tune_collector()
    return Ingest(
        open_ledger(settings),
        bootstrap,
        topic=settings.events_topic,
        rejected_topic=settings.rejected_topic,
        group=settings.consumer_group,
        client_id=f"assay-ingest-{os.getpid()}",
        max_message_bytes=settings.max_message_bytes,
        session_timeout=settings.ingest_session_timeout,
        instance_id=settings.ingest_instance_id,
    )


def platform_verifier_path(settings: Settings) -> Path:
    return settings.keys_dir / "platform.pub"


def init_platform_key(settings: Settings) -> tuple[Signer, bool]:
    """The platform signing key, created (0600) if missing; returns (signer, created)."""
    from anchoring.checkpoint import Signer
    from anchoring.keyfiles import read_signer_key, write_signer_key, write_verifier_key

    path = settings.platform_key_path
    if path.exists():
        return read_signer_key(path), False
    signer = Signer.generate(settings.checkpoint_origin)
    write_signer_key(path, signer)
    write_verifier_key(platform_verifier_path(settings), signer.verifier())
    return signer, True


def platform_verifier(settings: Settings) -> Verifier:
    from anchoring.checkpoint import Verifier

    return Verifier.from_text(platform_verifier_path(settings).read_text().strip())


def make_anchor(
    settings: Settings,
    ledger: CustodyLedger,
    chain: Chain,
    checkpoint_producer: Producer | None = None,
    checkpoint_outbox: Outbox | None = None,
    stamper: CheckpointStamper | None = None,
    witnessing: CheckpointWitnessing | None = None,
) -> Anchor:
    """The anchor; each signed checkpoint also goes to ``custody.checkpoints``, through the
    outbox if one is given (it then never waits for the broker), else the producer, and is
    offered to the OpenTimestamps stamper if there is one.

    With ``witnessing``, the anchor hands each checkpoint to it and goes on sealing; the
    witnessing thread publishes it (file, topic, stamper) once cosigned — call its
    ``flush`` before relying on the checkpoint file (e.g. after ``catch_up``)."""
    from anchoring.checkpoint_file import write_checkpoint_file
    from anchoring.sealer import Anchor, SealPolicy

    signer, _ = init_platform_key(settings)
    sink = checkpoint_outbox or checkpoint_producer or stamper

    def publish(text: str) -> None:
        if checkpoint_outbox is not None:
            checkpoint_outbox.put(settings.checkpoints_topic, None, text.encode())
        elif checkpoint_producer is not None:
            checkpoint_producer.send(settings.checkpoints_topic, text.encode())
        if stamper is not None:
            stamper.offer(text)

    target: Callable[[str], None] | None = publish if sink is not None else None
    if witnessing is not None:

        def publish_cosigned(text: str) -> None:
            write_checkpoint_file(settings.checkpoint_path, text)
            publish(text)

        witnessing.publish = publish_cosigned
        target = witnessing.offer
    anchor = Anchor(
        ledger,
        chain,
        signer,
        origin=settings.checkpoint_origin,
        policy=SealPolicy(settings.block_max_events, settings.block_max_seconds),
        header_version=settings.block_header_version,
        registry=settings.registry_in_map,
        checkpoint_path=settings.checkpoint_path if witnessing is None else None,
        publish_checkpoint=target,
    )
    if witnessing is not None:
        from witness.submitter import LockedProofs

        witnessing.proof = LockedProofs(anchor.consistency_proof)
    return anchor


def checkpoint_witnessing(settings: Settings) -> CheckpointWitnessing | None:
    """The anchor's witnessing (not started), if a witness policy is configured."""
    if not settings.witness_policy:
        return None
    from anchoring.header import MAP_HEADER_VERSION
    from witness.client import WitnessClient, WitnessEndpoint
    from witness.errors import PolicyError
    from witness.policy import load_policy
    from witness.publishing import read_status, write_status
    from witness.submitter import CheckpointWitnessing

    if settings.block_header_version != MAP_HEADER_VERSION:
        raise SettingsError("witnesses check consistency between version 2 checkpoints only: "
                            "'witness_policy' needs 'block_header_version' 2")  # fmt: skip
    try:
        policy = load_policy(settings.witness_policy)
    except PolicyError as e:
        raise SettingsError(f"setting 'witness_policy': {e}") from None
    urls = {name: w.url for name, w in policy.witnesses.items() if w.url}
    for entry in settings.witness_urls.split():
        name, sep, url = entry.partition("=")
        if not sep or name not in policy.witnesses:
            raise SettingsError(f"setting 'witness_urls': {entry!r} is not NAME=URL of a "
                                f"witness in {settings.witness_policy}")  # fmt: skip
        urls[name] = url
    if not urls:
        raise SettingsError(f"the witness policy {settings.witness_policy} gives no witness a "
                            "URL: add them there or in the setting 'witness_urls'")  # fmt: skip
    mine = init_platform_key(settings)[0].verifier()
    if policy.logs and all(log.verifier.to_text() != mine.to_text() for log in policy.logs):
        raise SettingsError(f"the witness policy {settings.witness_policy} does not list this "
                            f"platform's key {mine.to_text()}")  # fmt: skip
    try:
        endpoints = [
            WitnessEndpoint(name, url, policy.witnesses[name].verifier)
            for name, url in sorted(urls.items())
        ]
        client = WitnessClient(endpoints, timeout=settings.witness_timeout)
    except ValueError as e:
        raise SettingsError(f"witnesses: {e}") from None
    status_path = settings.witnessing_status_path
    witnessing = CheckpointWitnessing(
        client,
        urls,
        lambda text: None,  # make_anchor sets where cosigned checkpoints go
        policy=policy,
        on_status=lambda status: write_status(status_path, status),
    )
    # What earlier runs saw: a witness down now still shows what it last cosigned.
    earlier = (read_status(status_path) or {}).get("witnesses", {})
    for name, record in witnessing.status.witnesses.items():
        seen = earlier.get(name, {})
        if isinstance(seen.get("cosigned_size"), int):
            record.cosigned_size = seen["cosigned_size"]
        if isinstance(seen.get("cosigned_at"), (int, float)):
            record.cosigned_at = float(seen["cosigned_at"])
    return witnessing


def checkpoint_stamper(settings: Settings) -> CheckpointStamper | None:
    """The anchor's OpenTimestamps stamper (not started), if calendars are configured."""
    calendars = settings.ots_calendars.split()
    if not calendars:
        return None
    from witness.stamper import CheckpointStamper

    return CheckpointStamper(
        settings.timestamps_dir,
        calendars,
        interval=settings.ots_interval,
        upgrade_interval=settings.ots_upgrade_interval,
    )
