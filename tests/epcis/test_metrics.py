"""`assay epcis serve --metrics-port`: a scrape counts the documents captured and refused (by
GS1 exception), the custody events the broker acknowledged, and every request by route and
status with its latency; SIGTERM stops the gateway with one line."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.custody import Role
from tests.epcis.documents import BRAND_SITE, bag, commissioning, document, event
from tests.epcis.support import Gateway, Platform, free_port, platform
from tests.scrape import family, scrape, value

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LIMIT_EVENTS = 20
LIMIT_BYTES = 64 * 1024


@pytest.fixture
def site(tmp_path: Path, kafka_bootstrap: str) -> Iterator[tuple[Platform, Gateway, int]]:
    with platform(tmp_path, kafka_bootstrap) as made:
        key = made.party("maison-aurel", Role.BRAND)
        port = free_port()
        made.names["ASSAY_EPCIS_CAPTURE_LIMIT"] = str(LIMIT_EVENTS)
        made.names["ASSAY_EPCIS_CAPTURE_MAX_BYTES"] = str(LIMIT_BYTES)
        made.names["ASSAY_METRICS_PORT"] = str(port)
        yield made, made.gateway(key), port


def test_a_scrape_counts_captures_refusals_published_events_and_requests(
    site: tuple[Platform, Gateway, int],
) -> None:
    made, gateway, port = site
    assert value(scrape(port), "assay_epcis_captures_accepted_total") == 0
    t = "2026-03-01T10:00:00+09:00"
    # Two EPCIS events, five item events: one commissioning of three bags, one of two.
    good = document(
        commissioning(f"urn:uuid:{uuid.uuid4()}", t, [bag(1), bag(2), bag(3)]),
        commissioning(f"urn:uuid:{uuid.uuid4()}", t, [bag(4), bag(5)]),
    )
    teleporting = document(event("urn:uuid:t", "teleporting", t, BRAND_SITE, epcs=[bag(9)]))
    many = [commissioning(f"urn:uuid:{uuid.uuid4()}", t, [bag(n)]) for n in range(LIMIT_EVENTS + 1)]
    refusals = [
        (b"{not json", "application/json", 400),
        (teleporting, "application/ld+json", 400),
        (good, "text/plain", 415),
        (good[:-1] + b" " * LIMIT_BYTES + b"}", "application/json", 413),
        (document(*many), "application/json", 413),
    ]
    for body, content_type, status in refusals:
        assert gateway.capture(body, content_type).status == status
    job = gateway.capture_all(good)
    assert job["itemEvents"] == 5

    samples = scrape(port)
    assert value(samples, "assay_epcis_captures_accepted_total") == 1
    assert value(samples, "assay_epcis_events_accepted_total") == 2
    assert value(samples, "assay_epcis_custody_events_published_total") == 5 == made.published()
    assert value(samples, "assay_epcis_captures_failed_total") == 0
    assert family(samples, "assay_epcis_captures_rejected_total") == {
        (("code", "ValidationException"),): 2.0,
        (("code", "UnsupportedMediaTypeException"),): 1.0,
        (("code", "CaptureLimitExceededException"),): 2.0,
    }
    posts = {
        dict(labels)["status"]: n
        for labels, n in family(samples, "assay_http_requests_total").items()
        if dict(labels)["route"] == "/capture" and dict(labels)["method"] == "POST"
    }
    assert posts == {"202": 1, "400": 2, "415": 1, "413": 2}
    job_route = "/capture/{capture_id}"
    polled = value(samples, "assay_http_requests_total", method="GET", route=job_route,
                   server="epcis", status="200")  # fmt: skip
    assert polled >= 1  # the job, polled until it finished
    timed = value(samples, "assay_http_request_seconds_count", route="/capture", server="epcis")
    # OPTIONS /capture (the readiness probe) is timed under the same route as the POSTs.
    assert timed >= 6
    assert value(samples, "assay_http_request_seconds_sum", route="/capture", server="epcis") > 0

    gateway.stop()
    assert gateway.process.returncode == 0
    assert "assay epcis serve: stopped serving" in gateway.log.read_text()
