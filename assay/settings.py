"""Settings for every Assay process, read in one place.

Precedence: explicit overrides > environment (``ASSAY_*``) > TOML file > defaults.
The TOML file is ``$ASSAY_CONFIG`` if set, else ``./assay.toml`` if present.
Defaults work with nothing configured: a local broker and ``./assay-data/``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "ASSAY_"


class SettingsError(ValueError):
    """A setting has a value Assay cannot use."""


@dataclass(frozen=True)
class Settings:
    """Every knob of an Assay deployment; each maps to ``ASSAY_<NAME>`` in upper case."""

    data_dir: Path = field(default_factory=lambda: Path("assay-data"))
    #: Kafka bootstrap servers. Empty: start/reuse the local development broker.
    kafka_bootstrap: str = ""
    kafka_version: str = "4.1.1"
    #: Kafka client security, passed to every producer, consumer and admin client:
    #: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    kafka_security_protocol: str = "PLAINTEXT"
    #: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols only).
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    #: Never printed: excluded from repr, status output and logs.
    kafka_sasl_password: str = field(default="", repr=False)
    #: PEM files for SSL / SASL_SSL (CA bundle; client certificate and key for mTLS).
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    events_topic: str = "custody.events"
    rejected_topic: str = "custody.rejected"
    checkpoints_topic: str = "custody.checkpoints"
    partitions: int = 6
    consumer_group: str = "assay-ingest"
    #: Seconds without heartbeats after which a dead ingest worker's partitions move on.
    ingest_session_timeout: float = 10.0
    #: Static group membership: a stable, unique id per ingest worker (e.g. the pod name);
    #: a worker restarted with the same id resumes its partitions without a rebalance.
    ingest_instance_id: str = ""
    #: Largest message (key + value, bytes) the ingest decodes; bigger ones are refused
    #: unread with code ``oversized`` (kept in the dead-letter topic).
    max_message_bytes: int = 64 * 1024
    #: Event store DSN: empty for SQLite under data_dir, or a ``postgresql://`` URL.
    database_url: str = ""
    #: Seconds a writer waits for another process's lock on the event store, then fails.
    store_lock_timeout: float = 30.0
    #: Seal a block after this many events ...
    block_max_events: int = 1000
    #: ... or this many seconds after the first unsealed event, whichever first.
    block_max_seconds: float = 1.0
    #: Block header version the anchor seals: 2 commits to the head map (complete histories,
    #: absence proofs); 1 keeps the chain readable by verifiers that read only version 1.
    #: A chain never goes back from 2 to 1.
    block_header_version: int = 2
    #: With version 2 headers, the head map also holds every party and device key from the
    #: next block sealed on (proven names and keys, docs/proof-bundle.md §12); once a chain
    #: has switched it keeps doing so whatever this says.
    registry_in_map: bool = True
    #: Origin line of signed checkpoints (C2SP signed-note).
    checkpoint_origin: str = "assay.example/custody-log"
    #: Seconds between analyst snapshot refreshes.
    snapshot_interval: float = 2.0
    #: EPCIS capture gateway: most events one document may hold ...
    epcis_capture_limit: int = 10_000
    #: ... and most bytes it may have (GS1-EPCIS-Capture-File-Size-Limit).
    epcis_capture_max_bytes: int = 32 * 1024 * 1024
    #: A copy of GS1's EPCIS JSON Schema; empty: fetched once with npm (docs/epcis.md).
    epcis_schema: str = ""
    #: Logs `assay witness serve` cosigns: whitespace-separated ORIGIN=VKEY (or bare VKEY,
    #: whose key name is then the origin), added to its --log options.
    witness_logs: str = ""
    #: A witness policy file (C2SP tlog-policy): `assay anchor` and `assay run` send every
    #: checkpoint to its witnesses that have a URL and publish it cosigned; `assay status`
    #: judges its quorum. Empty: checkpoints are published with the log's signature only.
    witness_policy: str = ""
    #: Whitespace-separated NAME=URL: where the anchor reaches a policy witness (e.g. an
    #: internal address), overriding or adding to the URL in the policy.
    witness_urls: str = ""
    #: Seconds the anchor waits for witnesses per checkpoint; a slower one is asked again
    #: (and caught up) with the next checkpoint.
    witness_timeout: float = 2.0
    #: OpenTimestamps calendar URLs (whitespace-separated) checkpoints are submitted to.
    ots_calendars: str = ""
    #: Seconds between two timestamps of the anchor's latest checkpoint (when calendars
    #: are set): one timestamp dates every block its checkpoint commits to.
    ots_interval: float = 60.0
    #: Seconds between two passes upgrading pending timestamps from the calendars.
    ots_upgrade_interval: float = 600.0
    #: Seconds a long-running process may take to stop after SIGTERM or Ctrl-C, whatever
    #: the broker's state; past it, it exits at once (stores are transactional).
    stop_timeout: float = 10.0
    #: Port of the Prometheus metrics endpoint of long-running processes; 0: no endpoint.
    #: ``assay ingest --workers N`` gives worker n the port + n.
    metrics_port: int = 0
    #: Address the metrics endpoint listens on.
    metrics_host: str = "127.0.0.1"
    #: ``text`` (for people) or ``json`` (one JSON object per line, for log shippers).
    log_format: str = "text"
    #: ``debug``, ``info``, ``warning`` or ``error``: the least severe lines logged.
    log_level: str = "info"
    #: ``assay status`` calls the ingest unhealthy above this many waiting events ...
    health_max_lag: int = 10000
    #: ... the anchor, if events wait unsealed and the last block is older than this
    #: (seconds) ...
    health_max_anchor_delay: float = 60.0
    #: ... and the projection, if it is behind and its snapshot is older than this.
    health_max_snapshot_delay: float = 60.0
    #: A platform verifier key file (e.g. keys/platform.pub) `assay serve` pins in the
    #: verifier page it serves; empty: nothing pinned (the page labels trust on first use).
    page_pinned_key: str = ""
    #: A witness policy file (C2SP tlog-policy) the served verifier page pins.
    page_witness_policy: str = ""
    #: Where `assay owner claim|transfer|…` send owners' signed statements
    #: (`assay owner serve`).
    owner_endpoint: str = "http://127.0.0.1:8090"
    #: The owner endpoint the buyer's page sends claims to (its origin is the only one the
    #: page may connect to besides its own); empty: the page offers no claim.
    page_owner_endpoint: str = ""

    @property
    def ledger_db(self) -> Path:
        return self.data_dir / "ledger.sqlite"

    @property
    def disclosures_db(self) -> Path:
        """Salts and values of personal-data commitments (erasable: docs/privacy.md)."""
        return self.data_dir / "disclosures.sqlite"

    @property
    def chain_db(self) -> Path:
        return self.data_dir / "chain.sqlite"

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "projections.duckdb"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def platform_key_path(self) -> Path:
        return self.keys_dir / "platform.key"

    @property
    def witness_dir(self) -> Path:
        """Where `assay witness` keeps its key and state when run on this data dir."""
        return self.data_dir / "witness"

    @property
    def checkpoint_path(self) -> Path:
        return self.data_dir / "checkpoint"

    @property
    def timestamps_dir(self) -> Path:
        """Stamped checkpoints and their OpenTimestamps proofs (``checkpoint-<size>.ots``)."""
        return self.data_dir / "timestamps"

    @property
    def witnessing_status_path(self) -> Path:
        """The anchor's record of its witnesses (``assay-witnessing-v1``, docs/witnesses.md)."""
        return self.data_dir / "witnesses.json"

    @property
    def checkpoint_outbox_path(self) -> Path:
        """Signed checkpoints wait here until ``custody.checkpoints`` acknowledged them."""
        return self.data_dir / "checkpoints.outbox.sqlite"

    @property
    def uses_local_broker(self) -> bool:
        return not self.kafka_bootstrap

    def kafka_security(self) -> dict[str, Any]:
        """kafka-python security options for every client (validated; see streams.connection)."""
        from streams.connection import KafkaSecurityError, security_options

        try:
            return security_options(
                self.kafka_security_protocol,
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_username=self.kafka_sasl_username,
                sasl_password=self.kafka_sasl_password,
                ssl_cafile=self.kafka_ssl_cafile,
                ssl_certfile=self.kafka_ssl_certfile,
                ssl_keyfile=self.kafka_ssl_keyfile,
            )
        except KafkaSecurityError as e:
            raise SettingsError(str(e)) from None

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def setting_names() -> list[str]:
    """Environment variable names the settings understand (used by docker/ checks)."""
    return [ENV_PREFIX + f.name.upper() for f in fields(Settings)] + [ENV_PREFIX + "CONFIG"]


def _coerce(name: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, Path):
            return Path(str(raw)).expanduser()
        if isinstance(default, bool):
            return str(raw).lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name!r}: cannot use {raw!r}") from None


def load_settings(
    environ: dict[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    env = dict(os.environ if environ is None else environ)
    path = config_file or (Path(env["ASSAY_CONFIG"]) if env.get("ASSAY_CONFIG") else None)
    if path is None and Path("assay.toml").is_file():
        path = Path("assay.toml")
    from_file: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as config:
                from_file = tomllib.load(config)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"config file {path}: {e}") from None
    defaults = Settings()
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}
    for key in from_file:
        if key not in known:
            raise SettingsError(f"config file {path}: unknown setting {key!r}")
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        env_name = ENV_PREFIX + f.name.upper()
        if env_name in env:
            values[f.name] = _coerce(f.name, env[env_name], default)
        elif f.name in from_file:
            values[f.name] = _coerce(f.name, from_file[f.name], default)
    settings = replace(defaults, **values)
    if settings.partitions < 1:
        raise SettingsError("setting 'partitions' must be at least 1")
    if settings.max_message_bytes < 1:
        raise SettingsError("setting 'max_message_bytes' must be at least 1")
    if settings.epcis_capture_limit < 1 or settings.epcis_capture_max_bytes < 1:
        raise SettingsError("settings 'epcis_capture_limit' and '..._max_bytes' must be >= 1")
    _check_operations(settings)
    settings.kafka_security()  # refuse unusable security settings before any client starts
    return settings


LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


def _check_operations(settings: Settings) -> None:
    if settings.log_format not in LOG_FORMATS:
        raise SettingsError(f"setting 'log_format' must be one of {', '.join(LOG_FORMATS)}")
    if settings.log_level.lower() not in LOG_LEVELS:
        raise SettingsError(f"setting 'log_level' must be one of {', '.join(LOG_LEVELS)}")
    if not 0 <= settings.metrics_port <= 65535:
        raise SettingsError("setting 'metrics_port' must be 0 (off) or a port number")
    if settings.witness_timeout <= 0:
        raise SettingsError("setting 'witness_timeout' must be more than 0 seconds")
    if settings.stop_timeout <= 0:
        raise SettingsError("setting 'stop_timeout' must be more than 0 seconds")
