"""The API's OpenAPI document, and JSON values checked against its schemas by jsonschema."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from portal.api.routes import OPENAPI_FILE

OPENAPI: dict[str, Any] = json.loads(OPENAPI_FILE.read_text())


def resolve(ref: str) -> Any:
    """The object a local reference such as `#/components/schemas/Error` points at."""
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = OPENAPI
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` of response, parameter and example objects."""
    while "$ref" in node:
        node = resolve(node["$ref"])
    return node


def schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    """Why `value` does not match `schema` (empty when it does), formats included.

    OpenAPI 3.1 schemas are JSON Schema 2020-12; the document's components sit beside
    the schema, so that its `#/components/...` references resolve.
    """
    validator = Draft202012Validator(
        {**schema, "components": OPENAPI["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [
        f"{error.json_path}: {error.message:.200}"
        for error in sorted(validator.iter_errors(value), key=lambda error: error.json_path)
    ]
