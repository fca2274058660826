"""``assay demo``: one item's story end to end, on the real broker, with a verified proof.

A brand registers a bag, an appraiser authenticates it, a warehouse and a store take
custody, the store sells it — and a cloned tag then shows up at another store. Every
step is a signed scan published through Kafka, ingested into the ledger, sealed into a
block, projected into DuckDB and finally proven and verified from the bundle alone.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from anchoring.prove import Prover, write_bundle
from anchoring.verify import read_bundle, verify_bundle
from assay import runtime
from assay.settings import Settings
from domain.custody import CustodyEvent, Role
from domain.errors import PartyExists
from ledger.application import CustodyLedger
from streams.connection import KafkaConnection
from streams.keys import DeviceKey
from streams.producer import Producer
from streams.scanner import Scanner

PARTIES: list[tuple[str, str, Role, str]] = [
    ("maison-aurel", "Maison Aurel (brand)", Role.BRAND, "urn:epc:id:sgln:0614141.00001.0"),
    ("certa-lab", "Certa Authentication Lab", Role.APPRAISER, "urn:epc:id:sgln:0614142.00001.0"),
    ("hk-dc-1", "Hong Kong DC 1", Role.WAREHOUSE, "urn:epc:id:sgln:0614143.00001.0"),
    ("ginza-store", "Ginza Flagship", Role.STORE, "urn:epc:id:sgln:0614144.00001.0"),
    ("osaka-store", "Osaka Umeda", Role.STORE, "urn:epc:id:sgln:0614145.00001.0"),
]


@dataclass
class DemoReport:
    data_dir: str
    bootstrap: str
    item_id: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    block_heights: list[int] = field(default_factory=list)
    bundle_path: str = ""
    verified: bool = False
    failure: str = ""

    def as_json(self) -> dict[str, Any]:
        return self.__dict__


def device_key(settings: Settings, party_id: str) -> DeviceKey:
    path = settings.keys_dir / "devices" / f"{party_id}.json"
    if path.exists():
        return DeviceKey.load(path)
    key = DeviceKey.generate(party_id, f"{party_id}-scanner-1")
    key.save(path)
    return key


def enrol_parties(settings: Settings, ledger: CustodyLedger) -> dict[str, DeviceKey]:
    keys: dict[str, DeviceKey] = {}
    enrolled_at = datetime.now(UTC) - timedelta(days=1)
    for party_id, name, role, _ in PARTIES:
        keys[party_id] = key = device_key(settings, party_id)
        with contextlib.suppress(PartyExists):
            ledger.register_party(party_id, name, role)
        if role is Role.BRAND and not ledger.get_party(party_id).brands:
            # A brand commissions only under the brand names and prefixes it owns.
            ledger.declare_authority(party_id, ["Maison Aurel"], ["0614141"])
        if key.device_id not in ledger.get_party(party_id).devices:
            ledger.enrol_device(party_id, key.device_id, key.public_key_hex, at=enrolled_at)
    return keys


def story(item_id: str) -> list[tuple[str, str, Callable[[Scanner], CustodyEvent]]]:
    serial = item_id.rsplit(".", 1)[-1]
    tag = f"E280-1160-6000-{serial}"
    return [
        (
            "brand registers the bag",
            "maison-aurel",
            lambda s: s.commission(
                item_id, tag_uid=tag, brand="Maison Aurel", model="Lune 28", serial=serial
            ),
        ),
        (
            "appraiser authenticates it",
            "certa-lab",
            lambda s: s.inspect(item_id, verdict="genuine", certificate=f"CERTA-{serial}"),
        ),
        ("brand ships it to the DC", "maison-aurel", lambda s: s.ship(item_id, to="hk-dc-1")),
        ("warehouse receives it", "hk-dc-1", lambda s: s.receive(item_id)),
        ("warehouse ships it to Ginza", "hk-dc-1", lambda s: s.ship(item_id, to="ginza-store")),
        ("store receives it", "ginza-store", lambda s: s.receive(item_id)),
        ("store sells it", "ginza-store", lambda s: s.sell(item_id, buyer_ref="buyer-7f3a")),
        ("a cloned tag is scanned in Osaka", "osaka-store", lambda s: s.observe(item_id)),
    ]


def run_demo(settings: Settings, progress: Callable[[str], None]) -> DemoReport:
    t0 = time.monotonic()
    bootstrap = runtime.kafka_bootstrap(settings)
    item_id = f"urn:epc:id:sgtin:0614141.107346.{secrets.randbelow(10**9):09d}"
    report = DemoReport(str(settings.data_dir), str(bootstrap), item_id)
    report.timings["broker_ready_s"] = round(time.monotonic() - t0, 2)
    progress(f"broker ready at {bootstrap} ({report.timings['broker_ready_s']} s)")

    ledger = runtime.open_ledger(settings)
    keys = enrol_parties(settings, ledger)
    locations = {p[0]: p[3] for p in PARTIES}
    event_ids: list[str] = []
    t1 = time.monotonic()
    with Producer(bootstrap) as producer:
        for title, party_id, act in story(item_id):
            scanner = Scanner(
                keys[party_id], producer, location=locations[party_id], topic=settings.events_topic
            )
            event = act(scanner)
            event_ids.append(event.event_id)
            report.steps.append(
                {
                    "step": title,
                    "kind": event.kind.value,
                    "by": party_id,
                    "event_id": event.event_id,
                }
            )
    report.timings["publish_s"] = round(time.monotonic() - t1, 2)
    progress(f"published {len(event_ids)} signed events to {settings.events_topic}")

    t2 = time.monotonic()
    _ingest_until_seen(settings, bootstrap, item_id, event_ids)
    report.timings["ingest_s"] = round(time.monotonic() - t2, 2)
    _record_outcomes(report, runtime.open_ledger(settings))
    progress(f"ingested into the ledger ({report.timings['ingest_s']} s)")

    chain = runtime.open_chain(settings)
    witnessing = runtime.checkpoint_witnessing(settings)  # if a witness policy is set
    with Producer(bootstrap) as checkpoints:
        anchor = runtime.make_anchor(settings, ledger, chain, checkpoints, witnessing=witnessing)
        before = len(anchor.headers)
        anchor.catch_up()
        if witnessing is not None:
            witnessing.flush(settings.stop_timeout)  # the checkpoint file, once cosigned
            witnessing.stop()
        report.block_heights = [h.height for h in anchor.headers[before:]]
    progress(f"sealed block(s) {report.block_heights} and signed a checkpoint")

    from projections.projector import Projector

    projector = Projector(ledger, chain, settings.duckdb_path)
    try:
        projected = projector.catch_up()
        projector.publish()  # the analyst snapshot `assay sql` reads
    finally:
        projector.close()
    progress(f"projected {projected} events into {settings.duckdb_path}")

    checkpoint_text = settings.checkpoint_path.read_text()
    bundle = Prover(ledger, chain, checkpoint_text).prove(item_id)
    proofs = settings.data_dir / "proofs"
    proofs.mkdir(parents=True, exist_ok=True)
    bundle_path = proofs / (item_id.replace(":", "_") + ".json")
    bundle_path.write_text(write_bundle(bundle))
    report.bundle_path = str(bundle_path)
    try:
        verify_bundle(read_bundle(bundle_path.read_bytes()), runtime.platform_verifier(settings))
        report.verified = True
    except Exception as e:
        report.failure = f"{type(e).__name__}: {e}"
    report.timings["total_s"] = round(time.monotonic() - t0, 2)
    return report


def _ingest_until_seen(
    settings: Settings, bootstrap: KafkaConnection, item_id: str, event_ids: list[str]
) -> None:
    stop = threading.Event()
    ingest = runtime.make_ingest(settings, bootstrap)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            ingest.run(stop=stop)
        except BaseException as e:  # reported by the waiting loop, not lost with the thread
            failure.append(e)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    reader = runtime.open_ledger(settings)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if failure:
                raise failure[0]
            try:
                seen = reader.get_item(item_id).state.seen
            except LookupError:
                seen = {}
            if all(e in seen for e in event_ids):
                return
            time.sleep(0.1)
        raise TimeoutError(f"ingest did not store all {len(event_ids)} demo events in 90 s")
    finally:
        stop.set()
        worker.join(timeout=30)


def _record_outcomes(report: DemoReport, ledger: CustodyLedger) -> None:
    item = ledger.get_item(report.item_id)
    flagged = {f.evidence_event_id: f for f in item.state.flags}
    for step in report.steps:
        flag = flagged.get(step["event_id"])
        step["result"] = f"flagged: {flag.signal.value}" if flag else "accepted"


def render(report: DemoReport) -> str:
    rows = [("#", "step", "event (GS1 CBV)", "by", "result")]
    for n, s in enumerate(report.steps, 1):
        rows.append((str(n), s["step"], s["kind"], s["by"], s["result"]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [f"Assay demo — item {report.item_id}", f"Kafka: {report.bootstrap}", ""]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"sealed in block(s): {report.block_heights}")
    lines.append(f"proof bundle: {report.bundle_path}")
    t = report.timings
    lines.append(
        f"timings: broker {t.get('broker_ready_s')} s, publish {t.get('publish_s')} s, "
        f"ingest {t.get('ingest_s')} s, total {t.get('total_s')} s"
    )
    verdict = "VERIFIED" if report.verified else f"NOT VERIFIED — {report.failure}"
    lines.append(f"proof: {verdict} (device signatures, Merkle paths, block links, checkpoint)")
    return "\n".join(lines)
