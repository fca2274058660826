"""The Kafka broker distribution: the broker jars and the Java that runs them.

``ensure_jars`` finds the official Apache Kafka broker jars, from an existing install
(``$KAFKA_HOME/libs``) or fetched once with Maven into ``${XDG_CACHE_HOME:-~/.cache}/assay``
(cached per version, published atomically); ``find_java`` finds a Java 17+ to run them.
``devtools.localbroker`` runs the broker from these; ``python -m devtools.localbroker fetch``
caches the jars ahead of time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from assay.distfiles import default_cache_dir

DEFAULT_KAFKA_VERSION = "4.1.1"
MIN_JAVA = 17
#: How much of Maven's output a failed fetch quotes.
_MVN_TAIL_LINES = 20
INSTALL_JAVA_HINT = (
    f"install Java {MIN_JAVA}+ (e.g. `apt-get install openjdk-17-jre-headless`) "
    "or set JAVA_HOME to a JDK/JRE 17+"
)


class BrokerError(Exception):
    """The local broker cannot be fetched, started or stopped; the message says what to do."""


def find_java() -> Path:
    """The ``java`` to run the broker with: ``$JAVA_HOME/bin/java`` or the one on PATH."""
    java = _locate_java()
    major = _java_major(_java_version_text(java))
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major is not None else "a Java of unknown version"
        raise BrokerError(f"{java} is {found}; Kafka needs Java {MIN_JAVA}+: {INSTALL_JAVA_HINT}")
    return java


def _locate_java() -> Path:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = Path(java_home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise BrokerError(
                f"JAVA_HOME={java_home} has no executable bin/java: point JAVA_HOME at a "
                f"Java {MIN_JAVA}+ installation, or unset it and install Java {MIN_JAVA}+ "
                "(e.g. `apt-get install openjdk-17-jre-headless`)"
            )
        return java
    found = shutil.which("java")
    if found is None:
        raise BrokerError(
            f"no `java` on PATH; the local Kafka broker needs it: {INSTALL_JAVA_HINT}"
        )
    return Path(found)


def _java_version_text(java: Path) -> str:
    try:
        done = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BrokerError(f"cannot run {java} -version ({e}): {INSTALL_JAVA_HINT}") from None
    return done.stderr + done.stdout


def _java_major(version_text: str) -> int | None:
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def ensure_jars(kafka_version: str = DEFAULT_KAFKA_VERSION, cache_dir: Path | None = None) -> Path:
    """The directory of broker jars: ``$KAFKA_HOME/libs``, else fetched once into the cache.

    ``cache_dir`` replaces ``${XDG_CACHE_HOME:-~/.cache}/assay``; the jars land in
    ``<cache_dir>/kafka-<version>/libs``, which only ever appears complete.
    """
    kafka_home = os.environ.get("KAFKA_HOME")
    if kafka_home:
        return _kafka_home_libs(Path(kafka_home))
    libs = (cache_dir or default_cache_dir()) / f"kafka-{kafka_version}" / "libs"
    if not _has_broker_jar(libs):
        _fetch_jars(kafka_version, libs)
    return libs


def _kafka_home_libs(kafka_home: Path) -> Path:
    libs = kafka_home / "libs"
    if not _has_broker_jar(libs):
        raise BrokerError(
            f"KAFKA_HOME={kafka_home} has no libs/kafka_*.jar: point it at an unpacked "
            "Apache Kafka distribution, or unset it to let Assay fetch the jars"
        )
    return libs


def _has_broker_jar(libs: Path) -> bool:
    return libs.is_dir() and any(libs.glob("kafka_2.*.jar"))


def _fetch_jars(kafka_version: str, libs: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven (`mvn`) is needed once to fetch the Kafka broker jars and is not on PATH: "
            "install it (e.g. `apt-get install maven`), or set KAFKA_HOME to an unpacked "
            "Apache Kafka distribution"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs.parent))
    try:
        _run_mvn(mvn, kafka_version, staging)
        _publish(staging, libs)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run_mvn(mvn: str, kafka_version: str, out: Path) -> None:
    pom = Path(__file__).with_name("kafka-broker.pom.xml")
    command = [
        mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
        f"-DoutputDirectory={out}", "-DincludeScope=runtime", f"-Dkafka.version={kafka_version}",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BrokerError(f"fetching Kafka {kafka_version} jars with Maven failed: {e}") from None
    if done.returncode != 0 or not _has_broker_jar(out):
        raise BrokerError(
            f"fetching Kafka {kafka_version} jars with Maven failed (is the version right and "
            f"Maven Central reachable?):\n{_tail(done.stdout + done.stderr)}"
        )


def _publish(staging: Path, libs: Path) -> None:
    try:
        staging.rename(libs)
    except OSError:
        if not _has_broker_jar(libs):
            raise


def _tail(text: str, lines: int = _MVN_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
