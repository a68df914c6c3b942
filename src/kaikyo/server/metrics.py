"""The haven's Prometheus metrics, exposed through prometheus_client on the operator's listener.

Request counters and one latency histogram are kept in memory by the single server process
(:class:`Metrics`, fed by the request middleware); tenants' usage and quotas are read from the
metadata database at each scrape (:class:`HavenCollector`), so they are never stale and cost
nothing between scrapes. Names follow Prometheus' conventions: base units in the name
(``_bytes``, ``_seconds``), counters end in ``_total``, every family has HELP and TYPE.

Label values are bounded: the tenant label is set only for authenticated requests, so random
URLs from anonymous clients cannot grow the label space, and methods outside a fixed set are
one ``OTHER`` (``app.method_label``).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
Labels = tuple[tuple[str, str], ...]

# name -> (help, label names). Renamed in 0.2 (CHANGELOG): bytes_in/out_total ->
# received_bytes_total / sent_bytes_total, the unit before the _total suffix.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "kaikyo_haven_requests_total": (
        "Requests answered, by tenant, method and status.",
        ("tenant", "method", "status"),
    ),
    "kaikyo_haven_received_bytes_total": ("Request body bytes received, by tenant.", ("tenant",)),
    "kaikyo_haven_sent_bytes_total": ("Response body bytes sent, by tenant.", ("tenant",)),
    "kaikyo_haven_errors_total": (
        "Requests answered with a 4xx or 5xx status, by tenant and status.",
        ("tenant", "status"),
    ),
}
DURATION = "kaikyo_haven_request_duration_seconds"

# Gauges read from each tenant's row: name -> (help, column).
TENANT_GAUGES: dict[str, tuple[str, str]] = {
    "kaikyo_tenant_used_bytes": (
        "Bytes the tenant stores at the haven, trash included (what the quota counts).",
        "used_bytes",
    ),
    "kaikyo_tenant_quota_bytes": (
        "The tenant's quota in bytes; no sample for a tenant without one.",
        "quota_bytes",
    ),
    "kaikyo_tenant_used_objects": ("Objects the tenant stores, trash included.", "used_objects"),
    "kaikyo_tenant_quota_objects": (
        "The tenant's quota in objects; no sample for a tenant without one.",
        "quota_objects",
    ),
    "kaikyo_tenant_suspended": ("1 if the tenant is suspended, else 0.", "suspended"),
}


class Metrics:
    """Request counters and the latency histogram; thread-safe, updated per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._hist: dict[Labels, list[float]] = {}
        self._hist_sum: dict[Labels, float] = defaultdict(float)

    def inc(self, name: str, labels: Labels, value: float = 1.0) -> None:
        if name not in COUNTERS:
            raise KeyError(f"no counter {name}")
        with self._lock:
            self._counters[name][labels] += value

    def observe(self, labels: Labels, seconds: float) -> None:
        """One request's duration, into the cumulative buckets it falls under."""
        with self._lock:
            counts = self._hist.setdefault(labels, [0.0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._hist_sum[labels] += seconds

    def families(self) -> Iterator[Metric]:
        with self._lock:
            counters = {name: dict(rows) for name, rows in self._counters.items()}
            hist = {labels: list(counts) for labels, counts in self._hist.items()}
            sums = dict(self._hist_sum)
        for name, (text, label_names) in COUNTERS.items():
            family = CounterMetricFamily(name, text, labels=label_names)
            for labels, value in sorted(counters.get(name, {}).items()):
                family.add_metric([v for _, v in labels], value)
            yield family
        text = "Request latency, by method."
        histogram = HistogramMetricFamily(DURATION, text, labels=["method"])
        for labels, counts in sorted(hist.items()):
            buckets = [(repr(b), c) for b, c in zip(BUCKETS, counts, strict=False)]
            buckets.append(("+Inf", counts[-1]))
            histogram.add_metric([v for _, v in labels], buckets, sums[labels])
        yield histogram


def tenant_families(rows: list[dict[str, Any]]) -> Iterator[Metric]:
    """Usage and quota gauges from the tenants' rows (``Haven.list_tenants``)."""
    for name, (text, column) in TENANT_GAUGES.items():
        family = GaugeMetricFamily(name, text, labels=["tenant"])
        for row in rows:
            if row[column] is not None:
                family.add_metric([str(row["name"])], float(row[column]))
        yield family


Tenants = Callable[[], list[dict[str, Any]]]


class HavenCollector(Collector):
    """What one scrape reports: the request metrics, then the tenants' gauges, read now."""

    def __init__(self, metrics: Metrics, tenants: Tenants) -> None:
        self.metrics, self.tenants = metrics, tenants

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics.families()
        yield from tenant_families(self.tenants())


def registry_for(metrics: Metrics, tenants: Tenants) -> CollectorRegistry:
    """A registry of the haven's own (not prometheus_client's global one, which would mix
    the havens of one test process), with the process' CPU, memory and file descriptors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HavenCollector(metrics, tenants))
    ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition of one scrape; blocking (it reads the database): run it in a
    thread."""
    return generate_latest(registry)
