"""The metrics endpoint's error, apart from :mod:`assay.metrics` so that the command line
can map it to its exit code without importing Prometheus on every start."""

from __future__ import annotations


class MetricsError(RuntimeError):
    """The metrics endpoint cannot listen where it was asked to."""
