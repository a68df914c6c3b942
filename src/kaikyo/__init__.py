"""kaikyo (海峡, "the strait"): protect, migrate and evacuate servers to a haven."""

__version__ = "0.1.0"
