"""Personal data off the ledger, end to end through a real broker: a store sells a bag with
the buyer reference as a salted commitment (custody_event v4), the disclosure is kept in the
deletable store, the ledger, chain, projections and snapshot hold only the digest; after
``assay privacy erase`` the value is in no file, and the audit and the bundle still pass.
An older sale with a clear buyer reference (v2) keeps reading."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.custody import Kind
from ledger.disclosures import DisclosureStore
from streams.keys import DeviceKey
from streams.producer import Producer
from streams.scanner import Scanner
from streams.topics import custody_topics, ensure_topics
from tests.cli.test_commands import assay

PARTIES = {"brand": "brand", "lab": "appraiser", "dc": "warehouse", "ginza": "store"}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = assay(*args, env=env)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_committed_buyer_is_erased_and_every_proof_still_holds(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    suffix = uuid.uuid4().hex[:8]
    data = tmp_path / "data"
    names = {
        "ASSAY_EVENTS_TOPIC": f"priv.events.{suffix}",
        "ASSAY_REJECTED_TOPIC": f"priv.rejected.{suffix}",
        "ASSAY_CHECKPOINTS_TOPIC": f"priv.cp.{suffix}",
        "ASSAY_CONSUMER_GROUP": f"priv-{suffix}",
    }
    env = {**os.environ, **names, "ASSAY_DATA_DIR": str(data),
           "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap, "ASSAY_DATABASE_URL": ""}  # fmt: skip
    ensure_topics(kafka_bootstrap, custody_topics(*list(names.values())[:3], 1))
    run("keys", "init", env=env)
    keys: dict[str, DeviceKey] = {}
    for party, role in PARTIES.items():
        brand = ["--brand", "Maison Aurel"] if role == "brand" else []
        run("party", "add", party, "--name", party.title(), "--role", role, *brand, env=env)
        path = tmp_path / f"{party}.key"
        run("device", "keygen", "--out", str(path), "--party", party, "--device", "d1", env=env)
        run("device", "enrol", "--key", str(path), env=env)
        keys[party] = DeviceKey.load(path)

    buyer = f"Ana Lúcia {uuid.uuid4().hex[:6]}"
    legacy_buyer = f"legacy-{uuid.uuid4().hex[:6]}"
    disclosures = DisclosureStore(data / "disclosures.sqlite")
    start = datetime.now(UTC)  # after the enrolments
    with Producer(kafka_bootstrap) as producer:
        scan = {p: Scanner(k, producer, topic=names["ASSAY_EVENTS_TOPIC"], location=f"loc-{p}")
                for p, k in keys.items()}  # fmt: skip
        for n, item in enumerate(("urn:bag:private", "urn:bag:legacy")):
            at = start + timedelta(minutes=10 * n)
            scan["brand"].commission(item, tag_uid=f"T-{n}", brand="Maison Aurel", model="M",
                                     serial=str(n), occurred_at=at)  # fmt: skip
            scan["lab"].inspect(item, verdict="genuine", certificate=f"C-{n}",
                                occurred_at=at + timedelta(minutes=1))  # fmt: skip
            scan["brand"].ship(item, to="ginza", occurred_at=at + timedelta(minutes=2))
            scan["ginza"].receive(item, occurred_at=at + timedelta(minutes=3))
        sale_at = start + timedelta(minutes=30)
        sale = scan["ginza"].sell_privately(
            "urn:bag:private", buyer_ref=buyer, disclosures=disclosures, occurred_at=sale_at
        )
        # As a scanner of the previous version wrote it: v2, the buyer in clear.
        legacy = scan["ginza"].event(Kind.RETAIL_SELLING, "urn:bag:legacy",
                                     buyer_ref=legacy_buyer, occurred_at=sale_at)  # fmt: skip
        scan["ginza"].schema_version = 2
        scan["ginza"].publish(legacy)
    disclosures.close()
    assert set(sale.commitments) == {"buyer_ref"} and sale.buyer_ref is None

    ingested = run("ingest", "--until-idle", "0.5", "--json", env=env)
    counts = json.loads(ingested.stdout.strip().splitlines()[-1])
    assert (counts["accepted"], counts["rejected"]) == (10, 0), ingested.stderr
    run("anchor", "--once", env=env)
    run("project", "--until-idle", "1", env=env)
    shown = [json.loads(line) for line in run("privacy", "show", "urn:bag:private",
                                                 env=env).stdout.splitlines()]  # fmt: skip
    assert shown == [{"event_id": sale.event_id, "field": "buyer_ref",
                      "commitment": sale.commitments["buyer_ref"], "value": buyer,
                      "opens": True}]  # fmt: skip
    history = run("sql", "SELECT kind FROM custody_events WHERE item_id = 'urn:bag:legacy'",
                  env=env).stdout  # fmt: skip
    assert "retail_selling" in history

    needle = buyer.encode()
    assert files_holding(tmp_path, needle) == [data / "disclosures.sqlite"]
    erased = run("privacy", "erase", "urn:bag:private", env=env)
    assert "erased 1 disclosure(s)" in erased.stdout
    assert files_holding(tmp_path, needle) == []
    # The old clear sale is untouched (it is in signed bytes; docs/privacy.md says so).
    assert files_holding(data, legacy_buyer.encode())

    run("audit", env=env)
    public = tmp_path / "platform.pub"
    public.write_text(run("keys", "show", env=env).stdout)
    bundle = tmp_path / "bundle.json"
    run("prove", "urn:bag:private", "-o", str(bundle), env=env)
    run("verify", str(bundle), "--key", str(public), env=env)
    assert sale.commitments["buyer_ref"] in bundle.read_text()
    after = json.loads(run("privacy", "show", "urn:bag:private", env=env).stdout)
    assert (after["value"], after["opens"]) == (None, None)
