"""Prometheus metrics in the text exposition format, with no client library.

Counters and one latency histogram, kept in memory by the single server process. Label values
are bounded: the tenant label is set only for authenticated requests, so random URLs from
anonymous clients cannot grow the label space.
"""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
Labels = tuple[tuple[str, str], ...]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _fmt(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in labels)
    return "{" + inner + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._hist: dict[Labels, list[float]] = {}
        self._hist_sum: dict[Labels, float] = defaultdict(float)
        self._help = {
            "kaikyo_haven_requests_total": "Requests answered, by tenant, method and status.",
            "kaikyo_haven_bytes_in_total": "Request body bytes received, by tenant.",
            "kaikyo_haven_bytes_out_total": "Response body bytes sent, by tenant.",
            "kaikyo_haven_errors_total": "Requests answered with a 4xx or 5xx, by tenant, kind.",
        }

    def inc(self, name: str, labels: Labels, value: float = 1.0) -> None:
        with self._lock:
            self._counters[name][labels] += value

    def observe(self, labels: Labels, seconds: float) -> None:
        with self._lock:
            counts = self._hist.setdefault(labels, [0.0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._hist_sum[labels] += seconds

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._help):
                lines += [f"# HELP {name} {self._help[name]}", f"# TYPE {name} counter"]
                for labels, value in sorted(self._counters.get(name, {}).items()):
                    lines.append(f"{name}{_fmt(labels)} {_num(value)}")
            hname = "kaikyo_haven_request_duration_seconds"
            lines += [f"# HELP {hname} Request latency, by method.", f"# TYPE {hname} histogram"]
            for labels, counts in sorted(self._hist.items()):
                for bound, count in zip(BUCKETS, counts, strict=False):
                    le = _fmt((*labels, ("le", str(bound))))
                    lines.append(f"{hname}_bucket{le} {_num(count)}")
                lines.append(f"{hname}_bucket{_fmt((*labels, ('le', '+Inf')))} {_num(counts[-1])}")
                lines.append(f"{hname}_sum{_fmt(labels)} {self._hist_sum[labels]:.6f}")
                lines.append(f"{hname}_count{_fmt(labels)} {_num(counts[-1])}")
        return "\n".join(lines) + "\n"
