"""Stopping is prompt and clean: every long-running process, sent SIGTERM with its broker up
or gone, exits within ``stop_timeout`` (10 s) with one line, exit 0 (5 when scans are left in
an outbox), no traceback, and nothing half committed (the data audits clean afterwards)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from devtools.localbroker import LocalBroker
from streams.keys import DeviceKey
from tests.cli.support import free_port
from tests.faults.harness import custody_counts
from tests.faults.support import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STOP_TIMEOUT = 10.0
#: Interpreter teardown after the last line, on a busy machine.
EXIT_SLACK = 3.0


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def text(self) -> tuple[str, str]:
        return self.out.read_text(errors="replace"), self.err.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


def start(site: Deployment, name: str, *args: str, logs: Path) -> Running:
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("wb") as o, err.open("wb") as e:
        process = subprocess.Popen(
            [sys.executable, "-m", "assay", *args],
            env={**site.env, "ASSAY_STOP_TIMEOUT": str(STOP_TIMEOUT)},
            stdout=o,
            stderr=e,
        )
    return Running(name, process, out, err)


def wait_for(condition: Callable[[], bool], running: list[Running], what: str) -> None:
    deadline = time.monotonic() + 180
    while not condition():
        for r in running:
            assert r.alive(), f"{r.name} exited early: {r.text()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def members_with_partitions(bootstrap: str, group: str) -> int:
    """How many members of the (stable) consumer group have partitions assigned."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_groups([group])[group]
    finally:
        admin.close()
    if described["group_state"] != "Stable":
        return 0
    return sum(
        any(a["partitions"] for a in m["member_assignment"]["assigned_partitions"])
        for m in described["members"]
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def stop_all(running: list[Running]) -> dict[str, float]:
    """SIGTERM every process at once; seconds each took to exit."""
    began = time.monotonic()
    for r in running:
        r.process.send_signal(signal.SIGTERM)
    took: dict[str, float] = {}
    while len(took) < len(running):
        for r in running:
            if r.name not in took and r.process.poll() is not None:
                took[r.name] = time.monotonic() - began
        if time.monotonic() - began > 60:
            for r in running:
                r.process.kill()
            raise AssertionError(f"still running 60 s after SIGTERM: {set(map(str, running))}")
        time.sleep(0.05)
    return took


def assert_clean_stop(r: Running, took: float, code: int = 0) -> str:
    out, err = r.text()
    assert took <= STOP_TIMEOUT + EXIT_SLACK, f"{r.name} took {took:.1f} s: {out}{err}"
    assert r.process.returncode == code, f"{r.name}: exit {r.process.returncode}: {out}{err}"
    assert "Traceback" not in err and "Traceback" not in out, f"{r.name}: {err}"
    assert "did not stop within" not in err, f"{r.name} needed the watchdog: {err}"
    assert len(out.splitlines()) <= 1, f"{r.name} printed more than its line: {out!r}"
    summary = [line for line in (out + err).splitlines() if "(stopped on SIGTERM)" in line]
    assert len(summary) == 1, f"{r.name}: {out!r} {err!r}"
    return summary[0]


def pipeline(tmp_path: Path, bootstrap: str) -> tuple[Deployment, Deployment, list[Running]]:
    """Every long-running process, busy: ingest, anchor, project, serve on one data dir and
    `assay run` on another, with events flowing."""
    split = Deployment(tmp_path / "split", bootstrap)
    whole = Deployment(tmp_path / "whole", bootstrap)
    split.publish_items(0, 30)
    whole.publish_items(0, 30)
    logs = tmp_path / "logs"
    logs.mkdir()
    running = [
        start(split, "ingest", "ingest", logs=logs),
        start(split, "anchor", "anchor", logs=logs),
        start(split, "project", "project", logs=logs),
        start(whole, "run", "run", logs=logs),
    ]
    wait_for(lambda: custody_counts(split)[0] == 210 and custody_counts(whole)[0] == 210,
             running, "ingest")  # fmt: skip
    wait_for(lambda: (split.data_dir / "analyst.duckdb").exists(), running, "the projector")
    port = free_port()
    running.append(start(split, "serve", "serve", "--port", str(port), logs=logs))
    wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), running, "the server")
    return split, whole, running


def test_sigterm_with_the_broker_up_stops_every_process_cleanly(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    # The broker stays up throughout: the session's serves (a broker of its own is started
    # only by the tests that stop it).
    split, whole, running = pipeline(tmp_path, kafka_bootstrap)
    split.publish_items(30, 20)  # still arriving when the signal comes
    took = stop_all(running)
    for r in running:
        assert_clean_stop(r, took[r.name])
    split.audit_clean()
    whole.audit_clean()


def test_sigterm_with_the_broker_gone_stops_every_process_cleanly(
    tmp_path: Path, broker: LocalBroker
) -> None:
    split, whole, running = pipeline(tmp_path, broker.start())
    assert broker.stop()
    # The outage lasts longer than the ingest's periodic group check (5 s): clients are
    # reconnecting and every periodic call has met the absent broker when the signal comes.
    time.sleep(8)
    took = stop_all(running)
    for r in running:
        assert_clean_stop(r, took[r.name])
    split.audit_clean()
    whole.audit_clean()


def test_a_scanner_and_a_flush_stopped_while_the_broker_is_gone_keep_their_scans(
    tmp_path: Path, broker: LocalBroker
) -> None:
    site = Deployment(tmp_path / "data", broker.start())
    key_path = tmp_path / "sdk-scanner.key"
    DeviceKey.generate("brand", "sdk-scanner").save(key_path)
    assert broker.stop()
    logs = tmp_path / "logs"
    logs.mkdir()
    out, err = logs / "app.out", logs / "app.err"
    with out.open("wb") as o, err.open("wb") as e:
        app = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.scanner_app", str(key_path), site.bootstrap,
             site.events_topic, "--items", "20"],
            stdout=o, stderr=e,
        )  # fmt: skip
    wait_for(lambda: "made 100" in out.read_text(), [], "the scans")
    flush = start(site, "flush", "outbox", "flush", "--device-key", str(key_path), logs=logs)
    scanner = Running("scanner", app, out, err)
    # The app's sender retries the absent broker; the flush waits for the app's lock on
    # the outbox (one sender per file). Each says so once.
    wait_for(lambda: "Kafka unreachable" in scanner.text()[1]
             and "another process is sending" in flush.text()[1],
             [scanner, flush], "both to be under way")  # fmt: skip
    took = stop_all([scanner, flush])
    assert took["scanner"] <= STOP_TIMEOUT + EXIT_SLACK
    assert app.returncode == 5 and "left 100" in out.read_text()
    line = assert_clean_stop(flush, took["flush"], code=5)
    assert "100 message(s) waiting" in line


def test_ctrl_c_to_a_group_of_workers_stops_them_all(kafka_bootstrap: str, tmp_path: Path) -> None:
    site = Deployment(tmp_path / "data", kafka_bootstrap)
    site.publish_items(0, 20)
    logs = tmp_path / "logs"
    logs.mkdir()
    workers = start(site, "workers", "ingest", "--workers", "2", logs=logs)
    wait_for(lambda: custody_counts(site)[0] == 140, [workers], "ingest")
    # One worker can store all 140 alone: both must be running (in the group, with
    # partitions) for Ctrl-C to stop two of them, not one and a worker still starting.
    group = site.env["ASSAY_CONSUMER_GROUP"]
    wait_for(lambda: members_with_partitions(kafka_bootstrap, group) == 2, [workers], "2 members")
    began = time.monotonic()
    workers.process.send_signal(signal.SIGINT)
    workers.process.wait(timeout=60)
    took = time.monotonic() - began
    out, err = workers.text()
    assert took <= STOP_TIMEOUT + EXIT_SLACK, (took, out, err)
    assert workers.process.returncode == 0 and "Traceback" not in err, err
    lines = out.splitlines()
    assert len(lines) == 2 and all("(stopped on SIGTERM)" in line for line in lines), out
