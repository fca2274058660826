"""Reading a Prometheus endpoint in tests: every sample by name and labels."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the endpoint has no such sample (nothing counted yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def family(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of ``name``, by its labels."""
    return {labels: v for (n, labels), v in samples.items() if n == name}
