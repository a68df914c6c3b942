"""kaikyo (海峡, "the strait"): protect, migrate and evacuate servers from a primary site to a haven."""

__version__ = "0.1.0"
