"""JSON schema (from an admin's TOML file or an MCP server) turned into a pydantic model.

Every tool's arguments are validated by a pydantic model before the tool runs, so a declared
schema becomes one. Only the plain part of JSON schema is understood: object properties of type
string, integer, number, boolean, array and object, `required`, `enum`, `description`,
`default`, string/number bounds, and `anyOf` of one type and null (an optional argument).
Anything else is refused with a `SchemaError` naming the property, never silently loosened;
unknown extra arguments are forbidden.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}
_BOUNDS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "pattern": "pattern",
    "minItems": "min_length",
    "maxItems": "max_length",
}
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class SchemaError(ValueError):
    """A schema we cannot turn into a model; the message names the property."""


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _python_type(schema: dict[str, Any], where: str) -> Any:
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: must be a table/object")
    options = schema.get("anyOf")
    if options is not None:
        # `T | None`, as pydantic and MCP's FastMCP write an optional argument.
        kinds = [option for option in options if option != {"type": "null"}]
        if len(kinds) != 1 or len(options) != 2:
            raise SchemaError(f"{where}: anyOf is understood only as one type or null")
        return _python_type(kinds[0], where) | None
    if "enum" in schema:
        values = tuple(schema["enum"])
        if not values or not all(isinstance(v, str | int | float | bool) for v in values):
            raise SchemaError(f"{where}: enum must list strings or numbers")
        return Literal[values]
    kind = schema.get("type")
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        items = schema.get("items", {})
        return list[_python_type(items, f"{where}[]")] if items else list[Any]  # type: ignore[misc]
    if kind == "object":
        return dict[str, Any]
    raise SchemaError(f"{where}: unsupported type {kind!r} (string, integer, number, boolean, array, object)")


def _field(schema: dict[str, Any], where: str, *, required: bool) -> tuple[Any, Any]:
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: must be a table/object")
    python = _python_type(schema, where)
    options: dict[str, Any] = {"description": schema.get("description")}
    options.update({ours: schema[theirs] for theirs, ours in _BOUNDS.items() if theirs in schema})
    if required:
        return python, Field(..., **options)
    return python | None, Field(default=schema.get("default"), **options)


def model_from_schema(name: str, schema: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model (extra arguments forbidden) for an object schema."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise SchemaError("arguments: must be a JSON schema of type object")
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    if not isinstance(properties, dict):
        raise SchemaError("arguments.properties: must be a table/object")
    unknown = required - set(properties)
    if unknown:
        raise SchemaError(f"arguments.required: {sorted(unknown)[0]!r} is not a property")
    fields: dict[str, Any] = {}
    for key, spec in properties.items():
        if not _IDENTIFIER.match(key):
            raise SchemaError(f"arguments.properties.{key}: names are letters, digits and _")
        fields[key] = _field(spec, f"arguments.properties.{key}", required=key in required)
    try:
        return create_model(f"{name}_arguments", __base__=_Arguments, **fields)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"arguments: {exc}") from None
