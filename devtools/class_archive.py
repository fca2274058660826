"""A class-data-sharing archive of the local broker's classes (JDK AppCDS).

A Kafka JVM spends most of its start-up loading and verifying the same few thousand
classes; with an archive of them it maps them instead. The archive is made by a broker
that found none (``-XX:ArchiveClassesAtExit``, written when it exits after SIGTERM) and
published under a name that depends on the Java binary and the jar set, so a new JDK or
another Kafka version makes its own. An archive the JVM cannot use is ignored by it
(``-Xshare:auto``): the broker then starts as it would without one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from assay.distfiles import default_cache_dir


def archive_path(java: Path, libs: Path, cache_dir: Path | None = None) -> Path:
    """Where the archive for this Java and these jars lives (in the download cache)."""
    identity = hashlib.sha256()
    for part in (java.resolve(), libs.resolve()):
        stat = part.stat()
        identity.update(f"{part}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    for jar in sorted(libs.glob("*.jar")):
        identity.update(f"{jar.name}\0{jar.stat().st_size}\0".encode())
    return (cache_dir or default_cache_dir()) / "kafka-cds" / f"{identity.hexdigest()[:20]}.jsa"


def staging_path(archive: Path, owner: Path) -> Path:
    """The file one broker (named by its directory) writes its archive to at exit."""
    tag = hashlib.sha256(str(owner.absolute()).encode()).hexdigest()[:12]
    return archive.with_name(f".{archive.name}.{tag}.tmp")


def jvm_options(archive: Path, staging: Path | None) -> list[str]:
    """Use the archive if there is one; else (with ``staging``) make one at exit."""
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}"]
    if staging is None:
        return []
    staging.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()  # a leftover of a broker that was killed while writing it
    return [f"-XX:ArchiveClassesAtExit={staging}"]


def publish(archive: Path, staging: Path) -> None:
    """After a clean exit: the staged archive becomes the archive (the first one wins)."""
    if not staging.is_file():
        return
    if archive.is_file() or staging.stat().st_size == 0:
        staging.unlink(missing_ok=True)
        return
    os.replace(staging, archive)


def discard(staging: Path) -> None:
    """After an unclean exit (SIGKILL): a half-written archive must never be used."""
    staging.unlink(missing_ok=True)
