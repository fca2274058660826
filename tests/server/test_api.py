"""The HTTP API: 200 for what exists, 404 for what does not, 422 for what cannot be an id,
JSON errors without stack traces, and answers while ingest and the anchor keep writing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from anchoring.checkpoint import Verifier
from anchoring.errors import VerificationError
from anchoring.verify import verify_bundle
from assay import runtime
from assay.settings import Settings
from ledger.application import CustodyLedger, Report
from ledger.config import store_env
from server.app import create_app
from server.readmodel import ReadModel
from streams.envelope import seal
from tests.server.stores import ITEM, Store, build_store, event


@pytest.fixture(scope="module")
def api_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_store(tmp_path_factory.mktemp("api") / "assay-data", header_version=2)


@pytest.fixture(scope="module")
def client(api_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(api_store.settings)) as client:
        yield client


def _item(item_id: str = ITEM, suffix: str = "") -> str:
    return f"/items/{quote(item_id, safe='')}{suffix}"


def _is_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code, body
    assert "Traceback" not in response.text


# ----- 200 --------------------------------------------------------------------------------


def test_item_state_and_history(client: TestClient) -> None:
    response = client.get(_item())
    assert response.status_code == 200
    item = response.json()
    state = item["state"]
    assert (state["status"], state["holder"], state["verdict"]) == (
        "in_custody",
        "ginza",
        "genuine",
    )
    assert (state["brand"], state["model"], state["serial"]) == ("Maison Aurel", "Lune 28", "2017")
    assert [f["signal"] for f in state["flags"]] == ["scan_after_sale"]
    history = item["history"]
    assert [h["version"] for h in history] == list(range(1, 11))
    assert history[8]["type"] == "Flagged"
    assert history[8]["details"]["evidence"]["party_id"] == "osaka"
    assert history[1]["details"]["verdict"] == "genuine"
    assert "genuine" in history[1]["sentence"]
    assert [h["anchored"]["height"] for h in history] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert item["as_recorded"] is None  # nothing declared in error: one view
    assert all(h["declared_in_error"] is None for h in history)


def test_proof_verifies_with_the_pinned_key(client: TestClient, api_store: Store) -> None:
    response = client.get(_item(suffix="/proof"))
    assert response.status_code == 200
    verified = verify_bundle(response.json(), Verifier.from_text(api_store.key_text))
    assert (verified.item_id, verified.events, verified.checkpoint_size) == (ITEM, 10, 4)
    assert (verified.bundle_version, verified.completeness) == (5, "complete")
    assert verified.parties is not None and verified.parties["brand"]["proven"] is True


def test_checkpoint_is_the_signed_note(client: TestClient, api_store: Store) -> None:
    response = client.get("/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == api_store.settings.checkpoint_path.read_text()


def test_keys_list_the_platform_key_and_every_device(client: TestClient, api_store: Store) -> None:
    keys = client.get("/keys").json()
    verifier = Verifier.from_text(api_store.key_text)
    assert keys["platform"]["text"] == api_store.key_text
    assert keys["platform"]["key_id"] == verifier.key_id.hex()
    assert keys["platform"]["name"] == "assay.example/custody-log"
    devices = {d["id"]: d for d in keys["devices"]}
    assert set(devices) == {f"{p}/{p}-d1" for p in ("brand", "dc", "ginza", "lab", "osaka")}
    assert devices["ginza/ginza-d1"]["public_key"] == api_store.world.keys["ginza"].public_key_hex
    assert devices["lab/lab-d1"]["role"] == "appraiser"


def test_healthz(client: TestClient, api_store: Store) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["checkpoint_size"] == 4
    assert health["ledger_position"] == api_store.world.ledger.recorder.max_notification_id()


def test_qr_code_links_to_the_verifier_page(client: TestClient) -> None:
    response = client.get(_item(suffix="/qr.svg"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.text.startswith("<svg") and f"Verify {ITEM}" in response.text


def test_page_and_assets_are_served_under_a_strict_policy(client: TestClient) -> None:
    for path in ("/", "/verify"):
        page = client.get(path)
        assert page.status_code == 200 and "<title>Assay" in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    for path, kind in (
        ("/verifier-encodings.js", "javascript"),
        ("/verifier-chain.js", "javascript"),
        ("/verifier.js", "javascript"),
        ("/page.js", "javascript"),
        ("/verifier.css", "css"),
    ):
        asset = client.get(path)
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
        assert asset.headers["x-content-type-options"] == "nosniff"


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/items/{item_id}", "/items/{item_id}/proof", "/items/{item_id}/qr.svg",
                 "/checkpoint", "/keys", "/healthz", "/verify"):  # fmt: skip
        assert "get" in paths[path], path
    assert set(paths["/items/{item_id}"]["get"]["responses"]) >= {"200", "404", "422"}
    assert client.get("/docs").status_code == 404  # no Swagger UI: it would load a CDN


# ----- 404 --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/qr.svg"])
def test_unknown_item_is_404(client: TestClient, suffix: str) -> None:
    _is_error(client.get(_item("urn:epc:id:sgtin:0614141.107346.9999", suffix)), 404, "not_found")


@pytest.mark.parametrize("item_id", ["urn:epc:id:sgtin:0614141.107346.9999", "ginza"])
def test_the_proof_of_an_unknown_id_is_404_with_its_absence_proof(
    client: TestClient, api_store: Store, item_id: str
) -> None:
    response = client.get(_item(item_id, "/proof"))
    _is_error(response, 404, "unknown_item")
    body = response.json()
    assert body["item_id"] == item_id and body["absence_proof"]["format"] == "assay-absence"
    result = verify_bundle(body["absence_proof"], Verifier.from_text(api_store.key_text))
    assert (result.absent, result.item_id, result.completeness) == (True, item_id, "complete")


def test_before_the_head_map_an_unknown_id_is_a_plain_404(tmp_path: Path) -> None:
    store = build_store(tmp_path / "assay-data", header_version=1)  # no head map to prove in
    with TestClient(create_app(store.settings)) as client:
        _is_error(client.get(_item("urn:epc:id:sgtin:0614141.107346.9999", "/proof")), 404,
                  "not_found")  # fmt: skip


def test_a_party_is_not_an_item(client: TestClient) -> None:
    _is_error(client.get(_item("ginza")), 404, "not_found")


def test_unknown_path_and_method(client: TestClient) -> None:
    _is_error(client.get("/nothing/here"), 404, "not_found")
    _is_error(client.post(_item()), 405, "method_not_allowed")
    _is_error(client.delete("/checkpoint"), 405, "method_not_allowed")


# ----- 422 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item_id",
    ["x" * 257, "a b", "-leading-dash", "caf\u00e9", "semi<colon>", 'quote"d', "back\\slash"],
)
@pytest.mark.parametrize("suffix", ["", "/proof", "/qr.svg"])
def test_an_id_that_cannot_be_one_is_422(client: TestClient, item_id: str, suffix: str) -> None:
    _is_error(client.get(_item(item_id, suffix)), 422, "invalid_input")


def test_the_longest_id_is_accepted(client: TestClient) -> None:
    _is_error(client.get(_item("x" * 256)), 404, "not_found")


# ----- 500 and a fresh store --------------------------------------------------------------


class _Broken(ReadModel):
    def item(self, item_id: str) -> dict[str, Any]:
        raise RuntimeError("disk on fire at /secret/path")


def test_a_crash_is_500_without_details(api_store: Store) -> None:
    app = create_app(api_store.settings, _Broken(api_store.settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(_item())
    _is_error(response, 500, "internal")
    assert "secret" not in response.text and "RuntimeError" not in response.text


def test_fresh_store(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "empty"))) as client:
        assert client.get("/healthz").json()["checkpoint_size"] is None
        _is_error(client.get("/checkpoint"), 404, "not_anchored")
        assert client.get("/keys").json() == {"platform": None, "devices": []}
        _is_error(client.get(_item()), 404, "not_found")


def test_recorded_but_not_yet_anchored(tmp_path: Path) -> None:
    store = build_store(tmp_path / "assay-data")
    fresh = event(1, "commissioning", "brand", "urn:item:new", tag_uid="T-NEW", brand="B",
                  model="M", serial="S")  # fmt: skip
    store.record(fresh)
    with TestClient(create_app(store.settings)) as client:
        item = client.get(_item("urn:item:new")).json()
        assert item["history"][0]["anchored"] is None
        _is_error(client.get(_item("urn:item:new", "/proof")), 404, "not_anchored")
        store.anchor()
        assert client.get(_item("urn:item:new", "/proof")).status_code == 200


def test_an_older_bundle_is_brought_up_to_date_by_newer(tmp_path: Path) -> None:
    """A buyer's saved bundle plus /newer: still complete while nothing happened to the item,
    ``newer_events`` once the item has events the old bundle does not list."""
    store = build_store(tmp_path / "assay-data", header_version=2)
    key = Verifier.from_text(store.key_text)
    with TestClient(create_app(store.settings)) as client:
        old = client.get(_item(suffix="/proof")).json()
        query = f"/newer?height={old['head']['height']}&version=5"
        other = event(1, "commissioning", "brand", "urn:item:other", tag_uid="T-OTHER",
                      brand="Maison Aurel", model="M", serial="S")  # fmt: skip
        store.record(other)  # another item moves the checkpoint on; this one is unchanged
        store.anchor()
        unchanged = client.get(_item(suffix=query)).json()
        assert unchanged["head"]["height"] > old["head"]["height"]
        result = verify_bundle({**old, "newer": unchanged}, key)
        assert (result.completeness, result.checkpoint_size) == (
            "complete",
            unchanged["head"]["height"] + 1,
        )
        store.record(event(11, "observing", "ginza"))
        store.anchor()
        moved_on = client.get(_item(suffix=query)).json()
        with pytest.raises(VerificationError) as refused:
            verify_bundle({**old, "newer": moved_on}, key)
        assert refused.value.step == "newer_events"
        # Asked with no version (as clients written before version 5 ask), spelt as a
        # version 4 bundle spells it, hex, which a version 5 bundle refuses (§14.2).
        hex_spelt = client.get(_item(suffix=f"/newer?height={old['head']['height']}")).json()
        assert hex_spelt["map_entry"] == moved_on["map_entry"]
        assert [len(s) for s in hex_spelt["map_proof"]["siblings"] if s is not None] == [
            64 for s in moved_on["map_proof"]["siblings"] if s is not None
        ]
        assert old["version"] == 5
        with pytest.raises(VerificationError) as refused:
            verify_bundle({**old, "newer": hex_spelt}, key)
        assert refused.value.step == "bundle_format"
        too_new = query.replace("version=5", "version=6")
        _is_error(client.get(_item(suffix=too_new)), 422, "invalid_input")
        _is_error(client.get(_item(suffix="/newer?height=999")), 404, "not_anchored")
        _is_error(client.get(_item(suffix="/newer")), 422, "invalid_input")
        _is_error(client.get(_item(suffix="/newer?height=-1")), 422, "invalid_input")
        _is_error(client.get(_item("urn:epc:id:sgtin:0614141.107346.9999", query)), 404,
                  "not_found")  # fmt: skip


# ----- while ingest and the anchor write --------------------------------------------------


def test_answers_while_ingest_and_anchor_write(tmp_path: Path) -> None:
    """A writer (own connections, as a separate ingest would have) records and anchors
    events of one item while the API is read; every answer is complete and consistent."""
    store = build_store(tmp_path / "assay-data")
    settings = store.settings
    item = "urn:item:busy"
    writer_ledger = CustodyLedger(store_env("", settings.ledger_db))
    chain = runtime.open_chain(settings)
    anchor = runtime.make_anchor(settings, writer_ledger, chain)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            key = store.world.keys["brand"]
            first = event(0, "commissioning", "brand", item, tag_uid="T-BUSY", brand="B",
                          model="M", serial="S")  # fmt: skip
            writer_ledger.process([Report(first, seal(first, key))], None)
            n = 1
            while not stop.is_set():
                scan = event(n, "observing", "brand", item)
                writer_ledger.process([Report(scan, seal(scan, key))], None)
                if n % 5 == 0:
                    anchor.catch_up()
                n += 1
        except BaseException as e:  # reported by the test below
            errors.append(e)

    thread = threading.Thread(target=write, daemon=True)
    verifier = Verifier.from_text(store.key_text)
    with TestClient(create_app(settings)) as client:
        thread.start()
        seen, proofs = 0, 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            response = client.get(_item(item))
            if response.status_code == 404:
                continue  # not written yet
            assert response.status_code == 200, response.text
            history = response.json()["history"]
            assert len(history) >= seen
            seen = len(history)
            proof = client.get(_item(item, "/proof"))
            assert proof.status_code in (200, 404), proof.text
            if proof.status_code == 200:
                verify_bundle(proof.json(), verifier)
                proofs += 1
            assert client.get("/healthz").status_code == 200
        stop.set()
        thread.join(timeout=10)
    assert not errors, errors
    assert seen > 10 and proofs > 3, (seen, proofs)


# ----- read-only and bounded ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/healthz", "/checkpoint", "/keys", "/verify", "ITEM", "PROOF"])
def test_nothing_can_be_written(client: TestClient, method: str, path: str) -> None:
    path = {"ITEM": _item(), "PROOF": _item(suffix="/proof")}.get(path, path)
    response = client.request(method, path, content=b"{}")
    _is_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, HEAD"


def test_request_bodies_and_huge_targets_are_refused(client: TestClient) -> None:
    _is_error(client.request("GET", "/keys", content=b"x" * 4096), 413, "too_large")
    _is_error(client.get("/keys", headers={"content-length": "nope"}), 413, "too_large")
    _is_error(client.get("/keys?" + "q=1&" * 1000), 414, "uri_too_long")
    assert client.get("/keys?q=1").status_code == 200


class _Slow(ReadModel):
    def item(self, item_id: str) -> dict[str, Any]:
        time.sleep(1.5)
        return super().item(item_id)


def test_a_request_that_takes_too_long_is_cut_at_the_limit(api_store: Store) -> None:
    app = create_app(api_store.settings, _Slow(api_store.settings), request_seconds=0.3)
    with TestClient(app) as client:
        response = client.get(_item())
        _is_error(response, 503, "timeout")
        assert response.headers["retry-after"] == "1"
        assert client.get("/healthz").status_code == 200  # the server keeps serving
