"""The capture gateway over HTTP, as a real process against a real broker: GS1's capture
interface, RFC 7807 refusals that publish nothing, and capture jobs that outlive a restart."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.custody import Role
from tests.epcis import gs1
from tests.epcis.documents import BRAND_SITE, bag, commissioning, document, event
from tests.epcis.support import Gateway, Platform, platform, request

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LIMIT_EVENTS = 20
LIMIT_BYTES = 64 * 1024


@pytest.fixture
def site(tmp_path: Path, kafka_bootstrap: str) -> Iterator[tuple[Platform, Gateway]]:
    with platform(tmp_path, kafka_bootstrap) as made:
        key = made.party("maison-aurel", Role.BRAND)
        made.names["ASSAY_EPCIS_CAPTURE_LIMIT"] = str(LIMIT_EVENTS)
        made.names["ASSAY_EPCIS_CAPTURE_MAX_BYTES"] = str(LIMIT_BYTES)
        yield made, made.gateway(key)


def _is_problem(
    reply_status: int, status: int, body: bytes, headers: dict[str, str]
) -> dict[str, object]:
    assert reply_status == status, body
    assert headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = json.loads(body)
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert "Traceback" not in body.decode()
    return problem


def test_options_advertise_the_version_and_the_limits(site: tuple[Platform, Gateway]) -> None:
    _, gateway = site
    reply = request("OPTIONS", f"{gateway.url}/capture")
    assert reply.status == 204
    headers = {k.lower(): v for k, v in reply.headers.items()}
    assert headers["gs1-epcis-version"] == "2.0.0"
    assert headers["gs1-epcis-capture-limit"] == str(LIMIT_EVENTS)
    assert headers["gs1-epcis-capture-file-size-limit"] == str(LIMIT_BYTES)
    assert headers["gs1-capture-error-behaviour"] == "rollback"
    assert "POST" in headers["allow"]


def _unknown_reason() -> bytes:
    """GS1's errorDeclaration example with a reason that is no CBV error reason."""
    example = json.loads(gs1.example(gs1.ERROR_DECLARATION))
    example["epcisBody"]["eventList"][0]["errorDeclaration"]["reason"] = "https://example.com/x"
    return json.dumps(example).encode()


def test_every_refusal_is_a_problem_and_publishes_nothing(site: tuple[Platform, Gateway]) -> None:
    made, gateway = site
    t = "2026-03-01T10:00:00+09:00"
    good = document(commissioning(f"urn:uuid:{uuid.uuid4()}", t, [bag(1)]))
    teleporting = event("urn:uuid:1", "teleporting", t, BRAND_SITE, epcs=[bag(2)])
    private = event("urn:uuid:2", "https://example.com/teleporting", t, BRAND_SITE, epcs=[bag(2)])
    many = [commissioning(f"urn:uuid:{uuid.uuid4()}", t, [bag(n)]) for n in range(LIMIT_EVENTS + 1)]
    invalid = "ValidationException"
    refusals: list[tuple[str, bytes, str, int, str]] = [
        ("not JSON", b"{not json", "application/json", 400, invalid),
        ("invalid", document({"type": "ObjectEvent"}), "application/json", 400, invalid),
        ("teleporting", document(teleporting), "application/ld+json", 400, invalid),
        ("private step", document(private), "application/json", 400, invalid),
        ("declaration reason", _unknown_reason(), "application/ld+json", 400, invalid),
        ("media type", good, "text/plain", 415, "UnsupportedMediaTypeException"),
        ("XML", good, "application/xml", 415, "UnsupportedMediaTypeException"),
        ("bytes", good[:-1] + b" " * LIMIT_BYTES + b"}", "application/json", 413,
         "CaptureLimitExceededException"),
        ("events", document(*many), "application/json", 413, "CaptureLimitExceededException"),
    ]  # fmt: skip
    for name, body, content_type, status, kind in refusals:
        reply = gateway.capture(body, content_type)
        problem = _is_problem(
            reply.status, status, reply.body, {k.lower(): v for k, v in reply.headers.items()}
        )
        assert kind in str(problem["type"]), (name, problem)
    assert request("GET", f"{gateway.url}/capture").json() == []  # no job was started
    assert made.published() == 0
    # A good document's job ends after its events are acknowledged; anything a refusal had
    # sent by mistake went through the same producer before it, so one means none.
    job = gateway.capture_all(good)
    assert job["itemEvents"] == 1
    assert made.published() == 1


def test_an_unknown_cbv_value_names_the_event_and_the_field(site: tuple[Platform, Gateway]) -> None:
    _, gateway = site
    body = document(
        commissioning("urn:uuid:a", "2026-03-01T10:00:00+09:00", [bag(1)]),
        event("urn:uuid:b", "killing", "2026-03-01T11:00:00+09:00", BRAND_SITE, epcs=[bag(1)]),
    )
    reply = gateway.capture(body)
    problem = json.loads(reply.body)
    assert reply.status == 400
    assert problem["errors"] == [
        {
            "pointer": "/epcisBody/eventList/1/bizStep",
            "eventID": "urn:uuid:b",
            "detail": "bizStep 'killing' is refused: it does not move or confirm custody of a "
            "finished item",
        }
    ]


def test_capture_jobs_answer_after_a_restart(
    site: tuple[Platform, Gateway], tmp_path: Path
) -> None:
    made, gateway = site
    reply = gateway.capture(
        document(commissioning("urn:uuid:c", "2026-03-01T10:00:00+09:00", [bag(7)]))
    )
    assert reply.status == 202
    location = reply.headers["location"]
    assert location.startswith("/capture/")
    assert gateway.finished(location)["success"]
    gateway.stop()
    again = Gateway(gateway.env, gateway.key, None, gateway.log)
    made.gateways.append(again)
    job = again.job(location)
    assert (job["running"], job["success"], job["errors"], job["itemEvents"]) == (
        False,
        True,
        [],
        1,
    )
    missing = request("GET", f"{again.url}/capture/no-such-job")
    assert missing.status == 404 and missing.headers["content-type"] == "application/problem+json"
