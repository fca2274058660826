"""How every Kafka client of Assay reaches the cluster: bootstrap servers plus security.

One value carries both, so the SASL/SSL settings configured once reach every producer,
consumer and admin client alike. Secrets (passwords) never appear in ``repr`` or ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: kafka-python options that may carry a secret.
SECRET_OPTIONS = frozenset({"sasl_plain_password", "ssl_password"})


class KafkaSecurityError(ValueError):
    """Security settings that no Kafka client could use."""


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap: str
    #: kafka-python client options (``security_protocol``, ``sasl_*``, ``ssl_*``).
    security: tuple[tuple[str, Any], ...] = field(default=(), repr=False)

    def client_config(self) -> dict[str, Any]:
        """Keyword arguments for KafkaProducer, KafkaConsumer and KafkaAdminClient."""
        return {"bootstrap_servers": self.bootstrap, **dict(self.security)}

    def describe(self) -> str:
        """The address and protocol, safe to print or log (no secret)."""
        options = dict(self.security)
        protocol = str(options.get("security_protocol", "PLAINTEXT"))
        mechanism = options.get("sasl_mechanism")
        return f"{self.bootstrap} ({protocol}{f', {mechanism}' if mechanism else ''})"

    def __str__(self) -> str:
        return self.bootstrap


Cluster = str | KafkaConnection


def as_connection(cluster: Cluster) -> KafkaConnection:
    return cluster if isinstance(cluster, KafkaConnection) else KafkaConnection(cluster)


def security_options(
    protocol: str = "PLAINTEXT",
    *,
    sasl_mechanism: str = "",
    sasl_username: str = "",
    sasl_password: str = "",
    ssl_cafile: str = "",
    ssl_certfile: str = "",
    ssl_keyfile: str = "",
) -> dict[str, Any]:
    """Validated kafka-python security options; errors name the setting, never a secret."""
    protocol = protocol.upper() or "PLAINTEXT"
    if protocol not in PROTOCOLS:
        raise KafkaSecurityError(
            f"kafka_security_protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}"
        )
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        mechanism = sasl_mechanism.upper()
        if mechanism not in SASL_MECHANISMS:
            raise KafkaSecurityError(
                f"{protocol} needs kafka_sasl_mechanism, one of {', '.join(SASL_MECHANISMS)} "
                f"(got {sasl_mechanism!r})"
            )
        if not sasl_username or not sasl_password:
            raise KafkaSecurityError(
                f"{protocol} needs kafka_sasl_username and kafka_sasl_password"
            )
        options |= {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": sasl_username,
            "sasl_plain_password": sasl_password,
        }
    elif sasl_mechanism or sasl_username or sasl_password:
        raise KafkaSecurityError(
            f"SASL settings are given but kafka_security_protocol is {protocol}"
        )
    ssl_files = {"ssl_cafile": ssl_cafile, "ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile}
    if any(ssl_files.values()) and not protocol.endswith("SSL"):
        raise KafkaSecurityError(f"SSL files are given but kafka_security_protocol is {protocol}")
    options |= {name: value for name, value in ssl_files.items() if value}
    return options
