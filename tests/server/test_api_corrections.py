"""The API shows corrections and backdated keys: an item's corrected state, the state as
recorded, each event declared in error with who declared it, when and why; and every
enrolment with the time it was recorded and the time its key speaks from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from tests.server.stores import CORRECTED_ITEM, Store, build_corrected_store
from tests.support import T0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_corrected_store(tmp_path_factory.mktemp("api-corrected") / "assay-data")


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store.settings)) as client:
        yield client


def test_the_item_shows_the_corrected_view_and_the_original(client: TestClient) -> None:
    item = client.get(f"/items/{quote(CORRECTED_ITEM, safe='')}").json()
    state, original = item["state"], item["as_recorded"]
    # Without the shipping, the brand never let it go; osaka's receipt stands (flagged).
    assert (state["status"], state["holder"]) == ("in_custody", "osaka")
    assert [f["signal"] for f in state["flags"]] == ["rests_on_declared"]
    assert (original["status"], original["holder"]) == ("in_custody", "osaka")
    history = item["history"]
    assert [h["details"].get("kind") for h in history] == [
        "commissioning", "shipping", "receiving", "error_declaration", None,
    ]  # fmt: skip
    declared = history[1]["declared_in_error"]
    assert declared == {
        "by": "brand",
        "at": (T0 + timedelta(hours=4, microseconds=4004)).isoformat(),
        "reason": "incorrect_data",
        "declaration_event_id": f"{CORRECTED_ITEM}#e4",
        "corrective_event_ids": [f"{CORRECTED_ITEM}#e5"],
    }
    assert [h["declared_in_error"] is None for h in history] == [True, False, True, True, True]
    assert "[declared in error by brand" in history[1]["sentence"]
    assert history[3]["details"]["declared_event_id"] == f"{CORRECTED_ITEM}#e2"
    assert history[3]["details"]["corrective_event_ids"] == [f"{CORRECTED_ITEM}#e5"]
    assert "corrective_event_ids" not in history[0]["details"]


def test_keys_show_when_each_enrolment_was_recorded_and_from_when_it_speaks(
    client: TestClient,
) -> None:
    devices = {d["id"]: d for d in client.get("/keys").json()["devices"]}
    migration = devices["osaka/osaka-migration"]
    assert migration["enrolled_at"] == T0.isoformat()
    assert migration["effective_from"] == (T0 - timedelta(days=365)).isoformat()
    assert migration["recorded_at"] is not None
    usual = devices["osaka/osaka-d1"]
    assert usual["effective_from"] is None and usual["recorded_at"] is not None
