"""A bounded schemathesis run over the haven's OpenAPI description: malformed requests get
4xx answers, never 5xx, whatever the token's scope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from kaikyo.server.openapi import openapi_document
from kaikyo.testing.haven import HavenProcess

schema = schemathesis.openapi.from_dict(openapi_document())
DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def fuzz_tokens(haven: HavenProcess) -> dict[str, str]:
    return {s: haven.token("acme", s) for s in ("backup", "admin")}


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(
    case: schemathesis.Case, haven: HavenProcess, fuzz_tokens: dict[str, str]
) -> None:
    for scope in ("backup", "admin"):
        # Fuzzed paths name arbitrary tenants; point half of them at a real one.
        if case.path_parameters and "tenant" in case.path_parameters:
            case.path_parameters["tenant"] = "acme"
        response = case.call(
            base_url=haven.base, headers={"authorization": f"Bearer {fuzz_tokens[scope]}"}
        )
        assert response.status_code < 500, (
            case.method,
            case.formatted_path,
            response.status_code,
            response.text[:200],
        )


def test_docs_copy_matches_served_description(haven: HavenProcess) -> None:
    import httpx

    served = httpx.get(f"{haven.base}/openapi.json").json()
    assert served == openapi_document()
    assert json.loads(DOCS.read_text()) == served, "regenerate docs/openapi.json (see HAVEN.md)"
