"""The endpoint clients use during a cut-over: a TCP forwarder that can hold and re-point.

During a cut-over the service is down for a moment at the primary and not yet up at the
haven. A client that connects then should wait, not be refused: the forwarder accepts its
connection and holds it until it is pointed at the service's new home, then passes it on.
It is told what to do over a local control socket (:mod:`kaikyo.endpoint.control`).
"""

from kaikyo.endpoint.forwarder import Forwarder, Stats, parse_address

__all__ = ["Forwarder", "Stats", "parse_address"]
