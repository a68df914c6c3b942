"""Importable test support (fakes, conformance suites). Production code never imports it."""
