"""A platform for the EPCIS tests: its own topics and store, parties with device keys, real
``assay epcis serve`` gateways and ``assay ingest`` processes, all on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from domain.custody import Role
from ledger.application import CustodyLedger
from ledger.config import store_env
from streams.keys import DeviceKey
from streams.topics import custody_topics, ensure_topics
from tests.domain.factory import TEST_BRANDS, TEST_PREFIXES

#: Enrolled long before GS1's examples (2005, 2013) happened.
ENROLLED_AT = datetime(2000, 1, 1, tzinfo=UTC)
PARTITIONS = 3


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(method: str, url: str, body: bytes | None = None, content_type: str = "") -> Reply:
    req = urllib.request.Request(url, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, dict(e.headers), e.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Gateway:
    """An ``assay epcis serve`` process; ``kill`` is SIGKILL, ``stop`` a clean SIGTERM."""

    def __init__(self, env: dict[str, str], key: Path, parties: Path | None, log: Path) -> None:
        self.env, self.key, self.parties, self.log = env, key, parties, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "assay", "epcis", "serve", "--device-key", str(key)]
        command += ["--port", str(self.port), "--log-level", "warning"]
        if parties is not None:
            command += ["--parties", str(parties)]
        self._out = log.open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=self._out, stderr=self._out)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the gateway exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if request("OPTIONS", f"{self.url}/capture").status == 204:
                    return
            time.sleep(0.1)
        raise AssertionError(f"the gateway did not start:\n{self.log.read_text()[-3000:]}")

    def capture(self, body: bytes, content_type: str = "application/ld+json") -> Reply:
        return request("POST", f"{self.url}/capture", body, content_type)

    def job(self, location: str) -> dict[str, Any]:
        reply = request("GET", f"{self.url}{location}")
        assert reply.status == 200, reply.body
        job: dict[str, Any] = reply.json()
        return job

    def finished(self, location: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(location)
            if not job["running"]:
                return job
            time.sleep(0.05)
        raise AssertionError(f"capture job {location} still running after {timeout} s")

    def capture_all(self, body: bytes) -> dict[str, Any]:
        """Capture a document and wait for its job; fails unless it succeeded."""
        reply = self.capture(body)
        assert reply.status == 202, reply.body
        job = self.finished(reply.headers["location"])
        assert job["success"], job
        return job

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._out.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


class Platform:
    """Topics, the event store and parties of one test; gateways and ingests as processes."""

    def __init__(self, root: Path, bootstrap: str) -> None:
        self.root = root
        self.bootstrap = bootstrap
        suffix = uuid.uuid4().hex[:8]
        self.events_topic = f"epcis.events.{suffix}"
        self.names = {
            "ASSAY_EVENTS_TOPIC": self.events_topic,
            "ASSAY_REJECTED_TOPIC": f"epcis.rejected.{suffix}",
            "ASSAY_CHECKPOINTS_TOPIC": f"epcis.checkpoints.{suffix}",
            "ASSAY_CONSUMER_GROUP": f"epcis-{suffix}",
        }
        topics = list(self.names.values())[:3]
        ensure_topics(bootstrap, custody_topics(*topics, PARTITIONS))
        self.data_dir = root / "platform"
        self.ledger = CustodyLedger(store_env("", self.data_dir / "ledger.sqlite"))
        self.gateways: list[Gateway] = []
        self._consumer: KafkaConsumer | None = None

    def env(self, data_dir: Path | None = None) -> dict[str, str]:
        return {
            **os.environ,
            **self.names,
            "ASSAY_KAFKA_BOOTSTRAP": self.bootstrap,
            "ASSAY_DATA_DIR": str(data_dir or self.data_dir),
            "ASSAY_DATABASE_URL": "",
        }

    def party(self, party_id: str, role: Role) -> Path:
        """Register a party with one enrolled device; returns the device's key file."""
        brands = (TEST_BRANDS, TEST_PREFIXES) if role is Role.BRAND else ((), ())
        self.ledger.register_party(party_id, party_id.title(), role, *brands)
        key = DeviceKey.generate(party_id, f"{party_id}-gateway")
        self.ledger.enrol_device(party_id, key.device_id, key.public_key_hex, at=ENROLLED_AT)
        path = self.root / "keys" / f"{party_id}.key"
        key.save(path)
        return path

    def gateway(self, key: Path, parties: dict[str, str] | None = None) -> Gateway:
        """A gateway process with its own data dir (its jobs and packing memory)."""
        data_dir = self.root / f"gateway-{key.stem}"
        data_dir.mkdir(parents=True, exist_ok=True)
        table = None
        if parties is not None:
            table = data_dir / "parties.toml"
            lines = ["[parties]", *(f'"{k}" = "{v}"' for k, v in parties.items())]
            table.write_text("\n".join(lines) + "\n")
        gateway = Gateway(self.env(data_dir), key, table, data_dir / "gateway.log")
        self.gateways.append(gateway)
        return gateway

    def assay(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "assay", *args]
        return subprocess.run(
            command, env=self.env(), capture_output=True, text=True, timeout=600, check=False
        )

    def ingest(self) -> dict[str, int]:
        # --until-idle exits only once every partition is stored up to its end (a condition);
        # the quiet time it also asks for only delays that.
        done = self.assay("ingest", "--until-idle", "0.5", "--json")
        assert done.returncode == 0, done.stderr
        counts: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
        return counts

    def published(self) -> int:
        """How many messages the events topic holds (its end offsets, summed)."""
        if self._consumer is None:
            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        parts = [TopicPartition(self.events_topic, p) for p in range(PARTITIONS)]
        return int(sum(self._consumer.end_offsets(parts).values()))

    def custody_ids(self, item_id: str) -> list[str]:
        """Event ids of the item's stored reports (accepted or kept as evidence)."""
        ids = []
        for event in self.ledger.item_events(item_id):
            report = getattr(event, "custody", None) or getattr(event, "evidence", None)
            if report is not None and getattr(event, "envelope", None) is not None:
                ids.append(report.event_id)
        return ids

    def close(self) -> None:
        for gateway in self.gateways:
            gateway.stop()
        if self._consumer is not None:
            self._consumer.close()


@contextlib.contextmanager
def platform(root: Path, bootstrap: str) -> Iterator[Platform]:
    made = Platform(root, bootstrap)
    try:
        yield made
    finally:
        made.close()
