"""Brand authority end to end: brands declare names and GS1 prefixes with the CLI, and a
commissioning under another brand's name or prefix reaches ``custody.rejected`` through a
real broker and the ingest, with its code."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from streams.deadletter import DeadLetter
from streams.topics import custody_topics, ensure_topics
from tests.cli.test_commands import assay
from tests.streams.test_ingest import dead_letters

AUREL_BAG = "urn:epc:id:sgtin:0614141.107346.1"
VELLO_BAG = "urn:epc:id:sgtin:0777777.100001.1"


def commissioning(item: str, brand: str, tag: str) -> str:
    return json.dumps(
        {"item_id": item, "kind": "commissioning", "location": "paris", "tag_uid": tag,
         "brand": brand, "model": "M", "serial": "S"}
    )  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "ASSAY_DATA_DIR": str(tmp_path / "data")}


def publish(events: Path, key: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return assay("publish", str(events), "--device-key", str(key), env=env)


def test_commissionings_outside_a_brands_authority_are_dead_letters(
    tmp_path: Path,
    env: dict[str, str],
    kafka_bootstrap: str,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "ASSAY_EVENTS_TOPIC": f"auth.events.{suffix}",
        "ASSAY_REJECTED_TOPIC": f"auth.rejected.{suffix}",
        "ASSAY_CHECKPOINTS_TOPIC": f"auth.cp.{suffix}",
        "ASSAY_CONSUMER_GROUP": f"auth-{suffix}",
    }
    env = {**env, **names, "ASSAY_KAFKA_BOOTSTRAP": kafka_bootstrap}
    ensure_topics(kafka_bootstrap, custody_topics(*list(names.values())[:3], 1))
    added = assay("party", "add", "aurel", "--name", "Maison Aurel", "--role", "brand",
                  "--brand", "Maison Aurel", "--company-prefix", "0614141", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assay("party", "add", "vello", "--name", "Vello", "--role", "brand", env=env)
    # Vello has declared nothing yet; then declares its name and prefix.
    keys = {}
    for party in ("aurel", "vello"):
        keys[party] = tmp_path / f"{party}.key"
        assay("device", "keygen", "--out", str(keys[party]), "--party", party, "--device", "d1",
              env=env)  # fmt: skip
        assert assay("device", "enrol", "--key", str(keys[party]), env=env).returncode == 0
    events = tmp_path / "vello-early.jsonl"
    events.write_text(commissioning("urn:vello:1", "Vello", "T0") + "\n")
    assert publish(events, keys["vello"], env).returncode == 0
    ingested = assay("ingest", "--until-idle", "0.5", "--json", env=env)
    counts = json.loads(ingested.stdout.strip().splitlines()[-1])
    assert (counts["accepted"], counts["rejected"]) == (0, 1), ingested.stderr
    declared = assay("party", "declare", "vello", "--brand", "Vello",
                     "--company-prefix", "0777777", env=env)  # fmt: skip
    assert declared.returncode == 0 and "Vello, 0777777" in declared.stdout, declared.stderr
    taken = assay("party", "declare", "vello", "--brand", "maison aurel", env=env)
    assert taken.returncode == 2 and "authority_taken" in taken.stderr
    nothing = assay("party", "declare", "vello", env=env)
    assert nothing.returncode == 2 and "--brand" in nothing.stderr
    bad = assay("party", "declare", "vello", "--company-prefix", "12", env=env)
    assert bad.returncode == 2 and "invalid_company_prefix" in bad.stderr

    events = tmp_path / "vello.jsonl"
    events.write_text(
        "\n".join(
            [
                commissioning(VELLO_BAG, "Vello", "T1"),  # its own: accepted
                commissioning(AUREL_BAG, "Vello", "T2"),  # under Aurel's prefix
                commissioning("urn:vello:2", "Maison Aurel", "T3"),  # Aurel's name
            ]
        )
        + "\n"
    )
    assert publish(events, keys["vello"], env).returncode == 0
    ingested = assay("ingest", "--until-idle", "0.5", "--json", env=env)
    counts = json.loads(ingested.stdout.strip().splitlines()[-1])
    assert (counts["accepted"], counts["rejected"]) == (1, 2), ingested.stderr

    letters: list[DeadLetter] = dead_letters(kafka_bootstrap, names["ASSAY_REJECTED_TOPIC"], 3)
    assert sorted(letter.code for letter in letters) == [
        "brand_not_declared",
        "brand_not_owned",
        "brand_not_owned",
    ]
    reasons = " ".join(letter.reason for letter in letters)
    assert "aurel's GS1 company prefix 0614141" in reasons
    assert "names brand 'Maison Aurel'; it belongs to aurel" in reasons
    shown = assay("rejected", env=env)
    assert shown.stdout.count("brand_not_owned") == 2
