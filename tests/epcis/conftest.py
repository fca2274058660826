"""Fixtures of the EPCIS tests: GS1's schema, compiled once per session."""

from __future__ import annotations

import pytest

from epcis.dist import ensure_schema
from epcis.schema import EPCISSchema


@pytest.fixture(scope="session")
def schema() -> EPCISSchema:
    return EPCISSchema(ensure_schema())
