"""docker/ cannot run here (no Docker engine), so keep it honest by reading it: every
service command must be a real `assay` subcommand and every ASSAY_* variable a setting."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay.cli import build_parser
from assay.settings import setting_names

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def assay_services() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, svc)
        for name, svc in compose()["services"].items()
        if str(svc.get("image", "")).startswith("assay")
    ]


@pytest.mark.parametrize(("name", "service"), assay_services())
def test_every_assay_service_runs_a_real_subcommand(name: str, service: dict[str, Any]) -> None:
    parser = build_parser()
    args = parser.parse_args(service["command"])  # exits (fails the test) on an unknown one
    assert callable(args.handler), name


@pytest.mark.parametrize(("name", "service"), assay_services())
def test_every_variable_is_one_the_settings_know(name: str, service: dict[str, Any]) -> None:
    known = set(setting_names())
    variables = [k for k in service.get("environment", {}) if k.startswith("ASSAY_")]
    assert variables, f"{name} sets no ASSAY_* variable"
    assert set(variables) <= known, f"{name}: unknown {set(variables) - known}"


def test_the_roles_of_a_scaled_deployment_are_all_there() -> None:
    commands = {svc["command"][0] for _, svc in assay_services()}
    assert {"ingest", "anchor", "project", "serve", "keys"} <= commands
    services = compose()["services"]
    assert services["ingest"]["deploy"]["replicas"] >= 2
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["kafka"]


def test_the_dockerfile_copies_every_package_the_wheel_ships() -> None:
    pyproject = (DOCKER.parent / "pyproject.toml").read_text()
    packages = re.search(r"packages = \[(.*?)\]", pyproject)
    assert packages is not None
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for package in re.findall(r'"(\w+)"', packages.group(1)):
        assert f"COPY {package} ./{package}" in dockerfile, package


def test_the_native_package_is_built_in_the_image_with_a_recent_enough_rust() -> None:
    """Every path dependency (native/: Rust, built by `uv sync`) is copied in before the
    first `uv sync`, beside a Rust toolchain no older than the crate asks for."""
    pyproject = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())
    paths = [s["path"] for s in pyproject["tool"]["uv"]["sources"].values() if "path" in s]
    assert paths == ["native"]
    build = (DOCKER / "Dockerfile").read_text().split("FROM python:3.11-slim-bookworm AS build")
    assert len(build) == 2, "one build stage"
    first_sync = build[1].index("RUN uv sync")
    assert build[1].index("COPY native ./native") < first_sync
    assert "COPY --from=rust /usr/local/cargo /usr/local/cargo" in build[1][:first_sync]
    image = re.search(r"^FROM rust:(\d+)\.(\d+)-slim-bookworm AS rust$", build[0], re.M)
    crate = tomllib.loads((DOCKER.parent / "native" / "Cargo.toml").read_text())["package"]
    wanted = tuple(int(n) for n in crate["rust-version"].split("."))
    assert image is not None and (int(image[1]), int(image[2])) >= wanted[:2]


LONG_RUNNING = {"ingest", "anchor", "project", "run", "serve"}


def long_running(service: dict[str, Any]) -> bool:
    """A process that runs until stopped: it serves metrics and must stop in time."""
    command = service["command"]
    return command[0] in LONG_RUNNING or command[:2] in (["witness", "serve"], ["epcis", "serve"])


def _environment(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service.get("environment", {}).items()}


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text.strip())
    assert match, f"cannot read a duration from {text!r}"
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


@pytest.mark.parametrize(
    ("name", "service"),
    [(n, s) for n, s in assay_services() if long_running(s)],
)
def test_every_long_running_service_documents_its_metrics_port_and_stops_in_time(
    name: str, service: dict[str, Any]
) -> None:
    env = _environment(service)
    port = env.get("ASSAY_METRICS_PORT")
    assert port and port.isdigit() and int(port) > 0, f"{name}: no metrics port"
    assert env.get("ASSAY_METRICS_HOST") == "0.0.0.0", f"{name}: metrics not reachable"
    assert port in [str(p) for p in service.get("expose", [])], f"{name}: port not exposed"
    # The command takes the same port as a flag (the setting and the flag agree).
    args = build_parser().parse_args([*service["command"], "--metrics-port", port])
    assert args.metrics_port == int(port)
    stop = float(env.get("ASSAY_STOP_TIMEOUT", "10"))
    grace = _seconds(str(service.get("stop_grace_period", "10s")))
    assert grace > stop, f"{name}: Docker would kill it before it stops ({grace} <= {stop})"


def test_the_header_names_the_metrics_port() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    ports = {
        _environment(s).get("ASSAY_METRICS_PORT") for _, s in assay_services() if long_running(s)
    }
    assert len(ports) == 1
    assert f":{ports.pop()}/metrics" in text


def test_the_anchor_is_wired_to_every_witness_service() -> None:
    services = compose()["services"]
    policy = services["witness-policy"]["command"]
    args = build_parser().parse_args(policy)
    assert _environment(services["anchor"])["ASSAY_WITNESS_POLICY"] == str(args.out)
    assert "witness-policy" in services["anchor"]["depends_on"]
    urls = dict(entry.split("=", 1) for entry in args.url)
    vkeys = dict(entry.split("=", 1) for entry in args.witness)
    assert urls.keys() == vkeys.keys() and args.quorum == "2"
    witnesses = {n: s for n, s in assay_services() if s["command"][:2] == ["witness", "serve"]}
    assert len(witnesses) == len(urls) == 3
    for name, url in urls.items():
        host, port = re.fullmatch(r"http://([\w-]+):(\d+)", url).groups()  # type: ignore[union-attr]
        assert host in witnesses and port in [str(p) for p in witnesses[host]["expose"]], name
        # Its key service hands over the vkey the policy reads.
        key = build_parser().parse_args(services[f"{host}-key"]["command"])
        assert vkeys[name] == f"@{str(key.vkey_out).replace('/var/lib/platform', '/var/lib/assay')}"
