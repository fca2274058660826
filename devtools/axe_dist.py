"""axe-core, the accessibility engine the page tests run in Chromium, fetched once with npm.

Deque's ``axe-core`` (MPL-2.0) is not kept in this repository: ``ensure_axe`` runs
``npm pack axe-core@<pinned version>`` once, checks the tarball against the registry's
pinned integrity, and keeps ``axe.min.js`` with the package's licence and a provenance
note in ``${XDG_CACHE_HOME:-~/.cache}/assay/axe-core-<version>/`` (published atomically,
as ``epcis.dist`` does for GS1's schema). ``python -m devtools.axe_dist fetch`` does it
ahead of time (.ci/run).
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

PACKAGE = "axe-core"
VERSION = "4.14.1"
#: The npm registry's ``dist.integrity`` of axe-core@4.14.1: a different tarball is refused.
INTEGRITY = (
    "sha512-"
    "FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)
SCRIPT_MEMBER = "package/axe.min.js"
LICENSE_MEMBER = "package/LICENSE"
SCRIPT_FILE = "axe.min.js"


class AxeFetchError(Exception):
    """axe-core cannot be fetched; the message says what to do."""


def ensure_axe(cache_dir: Path | None = None) -> Path:
    """The path of ``axe.min.js``, fetched with npm on first use."""
    folder = (cache_dir or default_cache_dir()) / f"{PACKAGE}-{VERSION}"
    script = folder / SCRIPT_FILE
    if not script.is_file():
        _fetch(folder)
    return script


def _fetch(folder: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise AxeFetchError(
            f"npm is needed once to fetch {PACKAGE}@{VERSION} for the accessibility tests and "
            "is not on PATH: install it (e.g. `apt-get install npm`)"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".axe-", dir=folder.parent))
    try:
        tarball = _npm_pack(npm, staging)
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if f"sha512-{digest}" != INTEGRITY:
            raise AxeFetchError(
                f"{tarball.name} does not match the pinned integrity of {PACKAGE}@{VERSION}"
            )
        _extract(tarball, staging)
        tarball.unlink()
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / SCRIPT_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _npm_pack(npm: str, out: Path) -> Path:
    command = [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(out), "--silent"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AxeFetchError(f"`npm pack {PACKAGE}@{VERSION}` failed: {e}") from None
    tarballs = list(out.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise AxeFetchError(
            f"`npm pack {PACKAGE}@{VERSION}` failed (is the npm registry reachable?):\n{tail}"
        )
    return tarballs[0]


def _extract(tarball: Path, folder: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        for member, name in ((SCRIPT_MEMBER, SCRIPT_FILE), (LICENSE_MEMBER, "LICENSE")):
            source = archive.extractfile(member)
            if source is None:
                raise AxeFetchError(f"{tarball.name} has no {member}")
            (folder / name).write_bytes(source.read())
    (folder / "PROVENANCE").write_text(
        f"{SCRIPT_FILE}: Deque Systems' axe-core accessibility engine "
        f"(https://github.com/dequelabs/axe-core) as shipped in the npm package "
        f"{PACKAGE}@{VERSION} ({SCRIPT_MEMBER}), licence MPL-2.0 (LICENSE), "
        f"tarball integrity {INTEGRITY}.\n"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m devtools.axe_dist fetch``: cache axe-core (used by .ci/run)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["fetch"]:
        print("usage: python -m devtools.axe_dist fetch", file=sys.stderr)
        return 2
    try:
        print(ensure_axe())
    except AxeFetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
