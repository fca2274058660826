"""The local development Kafka broker: a real Apache Kafka (KRaft, one node, loopback).

Assay fetches the official broker jars itself (``devtools.kafka_dist``: Maven, cached per
version, or an existing install via ``$KAFKA_HOME``) and runs the broker detached, so it
outlives the command that started it. Everything it owns lives under ``<data_dir>/kafka``::

    server.properties   log4j2.properties   broker.json (pid, ports, cluster id)
    data/ (KRaft metadata and topic logs)   logs/ (server.log, console.log)   lock
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.distfiles import fetch_main
from devtools import class_archive
from devtools.broker_config import LOG4J2_PROPERTIES, read_properties, server_properties
from devtools.kafka_dist import DEFAULT_KAFKA_VERSION, BrokerError, ensure_jars, find_java
from devtools.processes import CHILDREN, alive, command_line, signal_group, wait_dead

if TYPE_CHECKING:
    from assay.settings import Settings

HOST = "127.0.0.1"
JVM_HEAP = "-Xmx512m"
#: C1 only: for the storage tool (it runs for a second) and short-lived brokers, compiling
#: with C2 only costs CPU; a broker that serves for long keeps C2's faster code.
ONE_SHOT_JIT = "-XX:TieredStopAtLevel=1"
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str | None
    data_dir: Path
    log_file: Path


@dataclass(frozen=True)
class _State:
    pid: int | None
    port: int
    controller_port: int
    cluster_id: str
    kafka_version: str
    #: The class archive this broker writes at exit (devtools.class_archive), if any.
    archive: str = ""
    staging: str = ""

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"


def new_cluster_id() -> str:
    """A KRaft cluster id, as ``kafka-storage random-uuid`` makes them."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


class LocalBroker:
    """A single-node KRaft broker on loopback, owned by ``data_dir / "kafka"``."""

    def __init__(
        self, data_dir: Path, kafka_version: str = DEFAULT_KAFKA_VERSION, short_lived: bool = False
    ) -> None:
        self.root = Path(data_dir).absolute() / "kafka"
        self.kafka_version = kafka_version
        #: Started and stopped within a minute or so (a test's own broker): JIT with C1 only.
        self.short_lived = short_lived

    @property
    def config_file(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j_file(self) -> Path:
        return self.root / "log4j2.properties"

    @property
    def storage_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def console_file(self) -> Path:
        return self.logs_dir / "console.log"

    @property
    def state_file(self) -> Path:
        return self.root / "broker.json"

    def start(self, timeout: float = 90.0) -> str:
        """Start the broker (or reuse the running one); returns its bootstrap address."""
        with self._locked():
            state = self._read_state()
            if state is not None and self._running(state):
                self._check_version(state)
                return state.bootstrap
            if state is not None and state.pid is not None:
                self._stop_process(state, timeout=10.0)
            return self._launch(state, timeout)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker; returns whether one was running."""
        with self._locked():
            state = self._read_state()
            if state is None or state.pid is None:
                return False
            was_running = self._owns(state.pid)
            if was_running:
                self._stop_process(state, timeout)
            self._write_state(replace(state, pid=None))
            return was_running

    def status(self) -> BrokerStatus:
        state = self._read_state()
        running = state is not None and self._running(state)
        return BrokerStatus(
            running=running,
            pid=state.pid if state is not None and running else None,
            bootstrap=state.bootstrap if state is not None and running else None,
            data_dir=self.root,
            log_file=self.log_file,
        )

    def _check_version(self, state: _State) -> None:
        if state.kafka_version != self.kafka_version:
            raise BrokerError(
                f"a Kafka {state.kafka_version} broker is already running in {self.root}; "
                f"stop it (`assay broker stop`) to switch to Kafka {self.kafka_version}"
            )

    def _launch(self, previous: _State | None, timeout: float) -> str:
        java = find_java()
        libs = ensure_jars(self.kafka_version)
        port, controller_port = _choose_ports(previous)
        cluster_id = self._cluster_id(previous)
        self._write_config(port, controller_port)
        archive = class_archive.archive_path(java, libs)
        if not (self.storage_dir / "meta.properties").exists():
            self._format(java, libs, cluster_id, class_archive.jvm_options(archive, None))
        staging = None if archive.is_file() else class_archive.staging_path(archive, self.root)
        options = class_archive.jvm_options(archive, staging)
        if self.short_lived:
            options.append(ONE_SHOT_JIT)
        state = _State(
            self._spawn(java, libs, options), port, controller_port, cluster_id,
            self.kafka_version, str(archive), str(staging or ""),
        )  # fmt: skip
        self._write_state(state)
        try:
            self._await_ready(state, time.monotonic() + timeout)
        except BaseException:
            self._stop_process(state, timeout=10.0, keep_archive=False)
            self._write_state(replace(state, pid=None))
            raise
        return state.bootstrap

    def _cluster_id(self, previous: _State | None) -> str:
        meta = self.storage_dir / "meta.properties"
        if meta.exists():
            found = read_properties(meta).get("cluster.id")
            if found:
                return found
        return previous.cluster_id if previous is not None else new_cluster_id()

    def _write_config(self, port: int, controller_port: int) -> None:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(
            self.config_file, server_properties(HOST, port, controller_port, self.storage_dir)
        )
        _write_atomic(self.log4j_file, LOG4J2_PROPERTIES)

    def _jvm(self, java: Path, libs: Path, options: list[str]) -> list[str]:
        return [
            str(java),
            JVM_HEAP,
            *options,
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            f"{libs}/*",
        ]

    def _format(self, java: Path, libs: Path, cluster_id: str, options: list[str]) -> None:
        command = [
            *self._jvm(java, libs, [ONE_SHOT_JIT, *options]), "kafka.tools.StorageTool", "format",
            "-t", cluster_id, "-c", str(self.config_file), "--ignore-formatted",
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BrokerError(
                f"formatting Kafka storage in {self.storage_dir} failed: {e}"
            ) from None
        if done.returncode != 0:
            raise BrokerError(
                f"formatting Kafka storage in {self.storage_dir} failed; delete that directory "
                f"to start afresh:\n{_tail(done.stdout + done.stderr)}"
            )

    def _spawn(self, java: Path, libs: Path, options: list[str]) -> int:
        command = [*self._jvm(java, libs, options), "kafka.Kafka", str(self.config_file)]
        with self.console_file.open("ab") as console:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
            )
        CHILDREN[process.pid] = process
        return process.pid

    def _await_ready(self, state: _State, deadline: float) -> None:
        while time.monotonic() < deadline:
            if state.pid is None or not alive(state.pid):
                raise BrokerError(f"the Kafka broker exited during startup. {self._log_hint()}")
            if _port_open(HOST, state.port) and _admin_ready(state.bootstrap):
                return
            time.sleep(0.25)
        raise BrokerError(
            f"the Kafka broker did not answer on {state.bootstrap} in time. {self._log_hint()}"
        )

    def _log_hint(self) -> str:
        parts = [f"See {self.log_file}"]
        for path in (self.log_file, self.console_file):
            text = _read_tail(path)
            if text:
                parts.append(f"--- last lines of {path} ---\n{text}")
        return "\n".join(parts)

    def _running(self, state: _State) -> bool:
        return state.pid is not None and self._owns(state.pid) and _port_open(HOST, state.port)

    def _owns(self, pid: int) -> bool:
        """Whether ``pid`` is alive and is this broker (not a recycled pid)."""
        if not alive(pid):
            return False
        if pid in CHILDREN:
            return True
        command = command_line(pid)
        return command is None or str(self.config_file) in command

    def _stop_process(self, state: _State, timeout: float, keep_archive: bool = True) -> None:
        """Stop the broker; a class archive it wrote at a clean exit after start-up is kept."""
        clean = self._terminate(state.pid, timeout)
        if state.staging:
            staging = Path(state.staging)
            if clean and keep_archive:
                class_archive.publish(Path(state.archive), staging)
            else:
                class_archive.discard(staging)

    def _terminate(self, pid: int | None, timeout: float) -> bool:
        """Whether the broker is gone after SIGTERM (False: it needed SIGKILL or was gone)."""
        if pid is None or not self._owns(pid):
            return False
        signal_group(pid, signal.SIGTERM)
        if wait_dead(pid, timeout):
            return True
        signal_group(pid, signal.SIGKILL)
        if not wait_dead(pid, 10.0):
            raise BrokerError(f"Kafka broker pid {pid} survived SIGKILL; stop it by hand")
        return False

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_state(self) -> _State | None:
        try:
            raw: dict[str, Any] = json.loads(self.state_file.read_text())
            return _State(
                pid=int(raw["pid"]) if raw.get("pid") is not None else None,
                port=int(raw["port"]),
                controller_port=int(raw["controller_port"]),
                cluster_id=str(raw["cluster_id"]),
                kafka_version=str(raw.get("kafka_version", self.kafka_version)),
                archive=str(raw.get("archive", "")),
                staging=str(raw.get("staging", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_state(self, state: _State) -> None:
        record = {
            "pid": state.pid,
            "port": state.port,
            "controller_port": state.controller_port,
            "cluster_id": state.cluster_id,
            "kafka_version": state.kafka_version,
            "bootstrap": state.bootstrap,
            "archive": state.archive,
            "staging": state.staging,
        }
        _write_atomic(self.state_file, json.dumps(record, indent=2) + "\n")


def resolve_bootstrap(settings: Settings) -> str:
    """The configured cluster if any; otherwise the local broker, started if needed."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    return LocalBroker(settings.data_dir, settings.kafka_version).start()


def bootstrap_answers(bootstrap: str, timeout: float = 2.0) -> bool:
    """Whether any ``host:port`` of a bootstrap list accepts a TCP connection."""
    for server in filter(None, (s.strip() for s in bootstrap.split(","))):
        host, _, port = server.rpartition("://")[2].rpartition(":")
        if port.isdigit() and _port_open(host.strip("[]") or "localhost", int(port), timeout):
            return True
    return False


def _choose_ports(previous: _State | None) -> tuple[int, int]:
    if previous is not None and all(
        _port_free(p) for p in (previous.port, previous.controller_port)
    ):
        return previous.port, previous.controller_port
    with _bound() as first, _bound() as second:
        return first.getsockname()[1], second.getsockname()[1]


@contextlib.contextmanager
def _bound(port: int = 0) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        yield sock
    finally:
        sock.close()


def _port_free(port: int) -> bool:
    try:
        with _bound(port):
            return True
    except OSError:
        return False


def _port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _admin_ready(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="assay-localbroker",
            request_timeout_ms=5000,
            bootstrap_timeout_ms=5000,
        )
    except (KafkaError, OSError):
        return False
    try:
        admin.list_topics()
        return bool(admin.describe_cluster().get("brokers"))
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(text)
    staging.replace(path)


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _read_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return _tail(f.read().decode(errors="replace"), lines)
    except OSError:
        return ""


def prepare(kafka_version: str = DEFAULT_KAFKA_VERSION) -> Path:
    """The broker jars, cached, and the class archive that makes later starts quicker
    (made by starting and stopping a broker once, if there is none yet)."""
    libs = ensure_jars(kafka_version)
    if not class_archive.archive_path(find_java(), libs).is_file():
        with tempfile.TemporaryDirectory(prefix="assay-broker-") as scratch:
            broker = LocalBroker(Path(scratch), kafka_version)
            try:
                broker.start()
            finally:
                broker.stop()
    return libs


def main(argv: list[str] | None = None) -> int:
    """``python -m devtools.localbroker fetch``: cache the broker jars and its class archive
    (used by .ci/run)."""
    return fetch_main(argv, "devtools.localbroker", prepare, BrokerError)


if __name__ == "__main__":
    raise SystemExit(main())
