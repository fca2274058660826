"""The API with a cosigned checkpoint: ``GET /checkpoint`` serves the note with every
signature line, proofs carry it verbatim and verify against the platform key alone, and
``GET /witnesses`` reports the policy's quorum on it."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from anchoring.checkpoint_file import note_size
from anchoring.verify import verify_bundle
from assay import runtime
from server.app import create_app
from tests.server.stores import ITEM, build_store
from witness.cosignature import WitnessSigner
from witness.note import merge_signatures, parse_note
from witness.publishing import write_status
from witness.submitter import WitnessingStatus, WitnessRecord


def test_the_api_serves_the_cosigned_checkpoint_and_the_witness_quorum(tmp_path: Path) -> None:
    store = build_store(tmp_path / "assay-data", header_version=2)
    settings = store.settings
    signed = settings.checkpoint_path.read_text()
    partners = [WitnessSigner.generate(f"p{n}.example/witness") for n in (1, 2, 3)]
    body = parse_note(signed).text
    cosigned = merge_signatures(signed, [w.cosign(body, int(time.time())) for w in partners[:2]])
    settings.checkpoint_path.write_text(cosigned)
    policy = tmp_path / "policy"
    platform = runtime.platform_verifier(settings)
    policy.write_text(
        f"log {platform.to_text()}\n"
        + "".join(f"witness p{n} {w.verifier().to_text()}\n" for n, w in enumerate(partners, 1))
        + "group partners 2 p1 p2 p3\nquorum partners\n"
    )
    size = note_size(signed)
    write_status(settings.witnessing_status_path, WitnessingStatus(
        {"p3": WitnessRecord("http://internal:8380", last_status="timeout")},
        published_size=size,
    ))  # fmt: skip
    app = create_app(settings.with_overrides(witness_policy=str(policy)))
    with TestClient(app) as client:
        assert client.get("/checkpoint").text == cosigned
        bundle = client.get(f"/items/{ITEM}/proof").json()
        assert bundle["checkpoint"] == cosigned
        assert verify_bundle(bundle, platform).item_id == ITEM
        report = client.get("/witnesses").json()
        assert report["quorum"]["met"] is True
        assert report["quorum"]["cosigned_by"] == ["p1", "p2"]
        assert report["policy"] == policy.read_text()  # the page's trust-on-first-use policy
        assert report["witnesses"] == {
            "p3": {"cosigned_size": 0, "cosigned_at": None, "last_status": "timeout"}
        }
        assert "/witnesses" in client.get("/openapi.json").json()["paths"]
