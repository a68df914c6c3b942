"""The OpenAPI 3.0 description of the haven's protocol, served at ``/openapi.json``.

Built here rather than read from a file so the installed server always serves the description
of the code it runs; ``docs/openapi.json`` is a copy that a test keeps identical.
"""

from __future__ import annotations

from typing import Any

from kaikyo import __version__

_SEGMENT = {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"}
_ERROR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _params(with_name: bool) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": "tenant", "in": "path", "required": True, "schema": _SEGMENT},
        {"name": "repo", "in": "path", "required": True, "schema": _SEGMENT},
    ]
    if with_name:
        params.append(
            {
                "name": "name",
                "in": "path",
                "required": True,
                "description": "object name, e.g. data/ab/ab12... (SHA-256 of the bytes)",
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    return params


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ERROR for code in codes}


def openapi_document() -> dict[str, Any]:
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    object_ops: dict[str, Any] = {
        "parameters": _params(True),
        "get": {
            "summary": "Read an object or a byte range of it",
            "operationId": "getObject",
            "security": security,
            "parameters": [
                {
                    "name": "range",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "example": "bytes=0-99"},
                }
            ],
            "responses": {
                "200": {
                    "description": "the object",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "206": {"description": "the requested range"},
                **_errors(400, 401, 403, 404, 416),
            },
        },
        "head": {
            "summary": "Stat an object (size; X-Kaikyo-Mtime = receive time by the haven)",
            "operationId": "statObject",
            "security": security,
            "responses": {
                "200": {"description": "exists"},
                **{str(c): {"description": "error"} for c in (400, 401, 403, 404)},
            },
        },
        "put": {
            "summary": "Create an object; content-addressed names are verified while streaming",
            "operationId": "putObject",
            "security": security,
            "parameters": [
                {
                    "name": "x-kaikyo-overwrite",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "enum": ["1"]},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
            "responses": {
                "201": {"description": "stored"},
                **_errors(400, 401, 403, 409, 411, 413, 422, 507),
            },
        },
        "delete": {
            "summary": "Delete an object (admin: moved to the tenant's trash for a grace period)",
            "operationId": "deleteObject",
            "security": security,
            "responses": {"204": {"description": "deleted"}, **_errors(400, 401, 403, 404)},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "kaikyo haven",
            "version": __version__,
            "description": "Zero-knowledge, multi-tenant object store for kaikyo "
            "repositories. Tokens are scoped: backup (append-only), "
            "restore (read-only), admin (delayed deletion).",
        },
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "operationId": "healthz",
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "text exposition",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/{tenant}/{repo}/list": {
                "get": {
                    "summary": "List objects by name prefix (NDJSON)",
                    "operationId": "listObjects",
                    "security": security,
                    "parameters": [
                        *_params(False),
                        {
                            "name": "prefix",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "one JSON object per line",
                            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                        },
                        **_errors(400, 401, 403),
                    },
                },
            },
            "/{tenant}/{repo}/o/{name}": object_ops,
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
    }
