"""A Kafka broker of the test's own, for tests that stop and start it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.localbroker import LocalBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    own = LocalBroker(tmp_path / "broker", short_lived=True)
    own.start()
    try:
        yield own
    finally:
        own.stop()
