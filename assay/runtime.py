"""Composition root: builds the ledger, chain, Kafka access and keys from Settings.

Every process (CLI, demo, workers, server) wires itself here and nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

from anchoring.chain import Chain
from anchoring.checkpoint import Signer, Verifier
from anchoring.keyfiles import read_signer_key, write_signer_key, write_verifier_key
from anchoring.sealer import Anchor, SealPolicy
from assay.settings import Settings
from ledger.application import CustodyLedger
from ledger.config import store_env
from streams.connection import KafkaConnection
from streams.ingest import Ingest
from streams.outbox import Outbox
from streams.producer import Producer
from streams.sender import OutboxSender
from streams.topics import custody_topics, ensure_topics


def open_ledger(settings: Settings) -> CustodyLedger:
    return CustodyLedger(
        store_env(settings.database_url, settings.ledger_db, settings.store_lock_timeout)
    )


def open_chain(settings: Settings) -> Chain:
    return Chain(store_env(settings.database_url, settings.chain_db, settings.store_lock_timeout))


def kafka_connection(settings: Settings) -> KafkaConnection:
    """The configured cluster with its security settings, or the local (plaintext) broker."""
    from devtools.localbroker import resolve_bootstrap

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
    return OutboxSender(
        outbox, connection, name=name, prepare=lambda c: ensure_custody_topics(settings, c)
    ).start()


def checkpoint_outbox(
    settings: Settings, connection: KafkaConnection
) -> tuple[Outbox, OutboxSender]:
    """The anchor's outbox of signed checkpoints and its (started) sender."""
    outbox = Outbox(settings.checkpoint_outbox_path)
    return outbox, outbox_sender(settings, outbox, connection, "checkpoints")


def make_ingest(settings: Settings, bootstrap: KafkaConnection | str) -> Ingest:
    """An ingest worker of the configured consumer group (one per process or thread)."""
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
    path = settings.platform_key_path
    if path.exists():
        return read_signer_key(path), False
    signer = Signer.generate(settings.checkpoint_origin)
    write_signer_key(path, signer)
    write_verifier_key(platform_verifier_path(settings), signer.verifier())
    return signer, True


def platform_verifier(settings: Settings) -> Verifier:
    return Verifier.from_text(platform_verifier_path(settings).read_text().strip())


def make_anchor(
    settings: Settings,
    ledger: CustodyLedger,
    chain: Chain,
    checkpoint_producer: Producer | None = None,
    checkpoint_outbox: Outbox | None = None,
) -> Anchor:
    """The anchor; each signed checkpoint also goes to ``custody.checkpoints``, through the
    outbox if one is given (it then never waits for the broker), else the producer."""
    signer, _ = init_platform_key(settings)
    sink = checkpoint_outbox or checkpoint_producer

    def publish(text: str) -> None:
        if checkpoint_outbox is not None:
            checkpoint_outbox.put(settings.checkpoints_topic, None, text.encode())
        elif checkpoint_producer is not None:
            checkpoint_producer.send(settings.checkpoints_topic, text.encode())

    return Anchor(
        ledger,
        chain,
        signer,
        origin=settings.checkpoint_origin,
        policy=SealPolicy(settings.block_max_events, settings.block_max_seconds),
        header_version=settings.block_header_version,
        checkpoint_path=settings.checkpoint_path,
        publish_checkpoint=publish if sink is not None else None,
    )
