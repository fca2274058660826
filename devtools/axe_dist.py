"""axe-core, the accessibility engine the page tests run in Chromium, fetched once with npm.

Deque's ``axe-core`` (MPL-2.0) is not kept in this repository: ``ensure_axe`` runs
``npm pack axe-core@<pinned version>`` once, checks the tarball against the registry's
pinned integrity, and keeps ``axe.min.js`` with the package's licence and a provenance
note in ``${XDG_CACHE_HOME:-~/.cache}/assay/axe-core-<version>/`` (published atomically,
as ``epcis.dist`` does for GS1's schema). ``python -m devtools.axe_dist fetch`` does it
ahead of time (.ci/run).
"""

from __future__ import annotations

from pathlib import Path

from assay.distfiles import NpmPackage, ensure_file, fetch_main

PACKAGE = "axe-core"
VERSION = "4.14.1"
#: The npm registry's ``dist.integrity`` of axe-core@4.14.1: a different tarball is refused.
INTEGRITY = (
    "sha512-"
    "FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)
SCRIPT_MEMBER = "package/axe.min.js"
SCRIPT_FILE = "axe.min.js"
ABOUT = "Deque's axe-core accessibility engine (https://github.com/dequelabs/axe-core, MPL-2.0)"


class AxeFetchError(Exception):
    """axe-core cannot be fetched; the message says what to do."""


DIST = NpmPackage(PACKAGE, VERSION, INTEGRITY, (SCRIPT_MEMBER, SCRIPT_FILE), ABOUT, AxeFetchError)


def ensure_axe(cache_dir: Path | None = None) -> Path:
    """The path of ``axe.min.js``, fetched with npm on first use."""
    return ensure_file(DIST, cache_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m devtools.axe_dist fetch``: cache axe-core (used by .ci/run)."""
    return fetch_main(argv, "devtools.axe_dist", ensure_axe, AxeFetchError)


if __name__ == "__main__":
    raise SystemExit(main())
