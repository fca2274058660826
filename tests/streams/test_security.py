"""Kafka security settings reach every client, and secrets never show.

The integration test starts a second real broker whose client listener demands SASL/PLAIN
and runs the whole demo (admin client, producers, the ingest consumer and its dead-letter
producer) through it with credentials from ``ASSAY_*`` settings only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.settings import Settings, SettingsError, load_settings
from devtools.localbroker import HOST, LocalBroker, _bound
from streams.connection import KafkaConnection, KafkaSecurityError, security_options

SECRET = "s3cr3t-assay-pw"
JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-pw" user_admin="admin-pw" '
    f'user_assay="{SECRET}";'
)


def test_sasl_settings_become_client_options() -> None:
    settings = load_settings(
        {
            "ASSAY_KAFKA_BOOTSTRAP": "kafka-1:9093",
            "ASSAY_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "ASSAY_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "ASSAY_KAFKA_SASL_USERNAME": "assay",
            "ASSAY_KAFKA_SASL_PASSWORD": SECRET,
            "ASSAY_KAFKA_SSL_CAFILE": "/etc/assay/ca.pem",
        }
    )
    assert settings.kafka_security() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "assay",
        "sasl_plain_password": SECRET,
        "ssl_cafile": "/etc/assay/ca.pem",
    }
    connection = KafkaConnection("kafka-1:9093", tuple(settings.kafka_security().items()))
    assert connection.client_config()["sasl_plain_password"] == SECRET
    for shown in (repr(settings), repr(connection), str(connection), connection.describe()):
        assert SECRET not in shown
    assert connection.describe() == "kafka-1:9093 (SASL_SSL, SCRAM-SHA-512)"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ASSAY_KAFKA_SECURITY_PROTOCOL": "TLS"}, "is not one of"),
        ({"ASSAY_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "needs kafka_sasl_mechanism"),
        (
            {
                "ASSAY_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "ASSAY_KAFKA_SASL_MECHANISM": "PLAIN",
            },
            "needs kafka_sasl_username and kafka_sasl_password",
        ),
        ({"ASSAY_KAFKA_SASL_USERNAME": "assay"}, "SASL settings are given"),
        ({"ASSAY_KAFKA_SSL_CAFILE": "/ca.pem"}, "SSL files are given"),
    ],
)
def test_unusable_security_settings_are_refused_by_name(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_a_refused_password_is_not_echoed() -> None:
    with pytest.raises(KafkaSecurityError) as refused:
        security_options("SASL_PLAINTEXT", sasl_mechanism="GSSAPI", sasl_password=SECRET)
    assert SECRET not in str(refused.value)


def test_the_local_broker_ignores_cluster_security(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_security_protocol="SSL")
    assert settings.uses_local_broker  # the loopback development broker speaks PLAINTEXT


class SaslBroker(LocalBroker):
    """The local broker plus a SASL_PLAINTEXT/PLAIN client listener on ``sasl_port``."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        with _bound() as sock:
            self.sasl_port = int(sock.getsockname()[1])

    def _write_config(self, port: int, controller_port: int) -> None:
        super()._write_config(port, controller_port)
        extra = {
            "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port},"
            f"SASL_PLAINTEXT://{HOST}:{self.sasl_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{port},"
            f"SASL_PLAINTEXT://{HOST}:{self.sasl_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "SASL_PLAINTEXT:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        }
        with self.config_file.open("a") as config:
            config.writelines(f"{key}={value}\n" for key, value in extra.items())


@pytest.fixture(scope="module")
def sasl_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = SaslBroker(tmp_path_factory.mktemp("sasl-broker"))
    broker.start()
    try:
        yield f"{HOST}:{broker.sasl_port}"
    finally:
        broker.stop()


def _demo(cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environ}
    return subprocess.run(
        [sys.executable, "-m", "assay", "demo", "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.kafka
@pytest.mark.slow
def test_the_demo_runs_through_a_sasl_listener(sasl_bootstrap: str, tmp_path: Path) -> None:
    sasl = {
        "ASSAY_KAFKA_BOOTSTRAP": sasl_bootstrap,
        "ASSAY_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "ASSAY_KAFKA_SASL_MECHANISM": "PLAIN",
        "ASSAY_KAFKA_SASL_USERNAME": "assay",
        "ASSAY_KAFKA_SASL_PASSWORD": SECRET,
    }
    done = _demo(tmp_path, sasl)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verified"] is True
    assert SECRET not in done.stdout + done.stderr

    # The same listener with a wrong password: a clear failure, no secret in the output.
    (tmp_path / "wrong").mkdir()
    wrong = _demo(tmp_path / "wrong", {**sasl, "ASSAY_KAFKA_SASL_PASSWORD": "not-it"})
    assert wrong.returncode != 0
    assert "not-it" not in wrong.stdout + wrong.stderr


# ----- secret key files ----------------------------------------------------------------------


def _assay(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assay", "--data-dir", str(cwd / "data"), *args],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_key_files_are_created_private_and_no_secret_is_printed(tmp_path: Path) -> None:
    init = _assay("keys", "init", cwd=tmp_path)
    keygen = _assay("device", "keygen", "--party", "brand", "--device", "brand-d1",
                    "--out", str(tmp_path / "d.key"), cwd=tmp_path)  # fmt: skip
    assert init.returncode == keygen.returncode == 0, init.stderr + keygen.stderr
    platform_key = tmp_path / "data" / "keys" / "platform.key"
    for path in (platform_key, tmp_path / "d.key"):
        assert path.stat().st_mode & 0o777 == 0o600
    # PRIVATE+KEY+<name>+<key hash>+<base64 key>; base64 itself may contain "+".
    secret_seed = platform_key.read_text().strip().split("+", 4)[4]
    assert len(secret_seed) >= 44, secret_seed
    device_seed = json.loads((tmp_path / "d.key").read_text())["seed"]
    printed = init.stdout + init.stderr + keygen.stdout + keygen.stderr
    assert secret_seed not in printed and device_seed not in printed


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    from anchoring.checkpoint import KeyFileError as CheckpointKeyError
    from anchoring.checkpoint import Signer
    from anchoring.keyfiles import read_signer_key, write_signer_key
    from streams.keys import DeviceKey, KeyFileError

    device, signer = tmp_path / "device.key", tmp_path / "platform.key"
    DeviceKey.generate("brand", "brand-d1").save(device)
    write_signer_key(signer, Signer.generate("assay.example/log"))
    DeviceKey.load(device)  # 0600: fine
    read_signer_key(signer)
    device.chmod(mode)
    signer.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        DeviceKey.load(device)
    with pytest.raises(CheckpointKeyError, match="chmod 600"):
        read_signer_key(signer)
    # The CLI says the same in one line.
    (tmp_path / "data" / "keys").mkdir(parents=True)
    signer.rename(tmp_path / "data" / "keys" / "platform.key")
    done = _assay("anchor", "--once", cwd=tmp_path)
    assert done.returncode != 0
    assert "chmod 600" in done.stderr and "Traceback" not in done.stderr
