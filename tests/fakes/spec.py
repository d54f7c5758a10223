"""Checks a request against the providers' published API specifications (copies in tests/fakes/specs)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp.web import FileField

# Kept in the repository (with their licences) so the suite runs from a plain clone, not only beside shared/.
SPECS = Path(__file__).resolve().parent / "specs"


@cache
def telegram_spec() -> dict[str, Any]:
    return json.loads((SPECS / "telegram" / "bot_api.json").read_text(encoding="utf-8"))


@cache
def twilio_spec() -> dict[str, Any]:
    return json.loads((SPECS / "twilio" / "twilio_api_v2010.json").read_text(encoding="utf-8"))


def _check_scalar(value: Any, kind: str, *, top: bool) -> str | None:
    if kind == "String":
        return None if isinstance(value, str) else f"expected String, got {value!r}"
    if kind == "Integer":
        if isinstance(value, bool):
            return f"expected Integer, got {value!r}"
        if isinstance(value, int):
            return None
        if top and isinstance(value, str):
            try:
                int(value)
            except ValueError:
                return f"expected Integer, got {value!r}"
            return None
        return f"expected Integer, got {value!r}"
    if kind == "Float":
        try:
            float(value)
        except (TypeError, ValueError):
            return f"expected Float, got {value!r}"
        return None
    if kind == "Boolean":
        if isinstance(value, bool) or (top and value in ("true", "false", "True", "False")):
            return None
        return f"expected Boolean, got {value!r}"
    return f"unknown scalar type {kind}"


def check_telegram_value(value: Any, kinds: list[str], *, top: bool = False) -> str | None:
    """None when ``value`` matches one of ``kinds``; otherwise why not. Form fields arrive as strings."""
    problems = []
    for kind in kinds:
        problem = _check_one(value, kind, top=top)
        if problem is None:
            return None
        problems.append(problem)
    return "; ".join(problems)


def _check_one(value: Any, kind: str, *, top: bool) -> str | None:
    types = telegram_spec()["types"]
    if kind == "InputFile":
        # "Must be posted using multipart/form-data in the usual way that files are uploaded via the browser."
        is_upload = top and isinstance(value, FileField) and bool(value.filename)
        return None if is_upload else f"expected an InputFile (a multipart file part), got {value!r}"
    if kind.startswith("Array of "):
        if top and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                return f"expected JSON array for {kind}"
        if not isinstance(value, list):
            return f"expected {kind}, got {value!r}"
        inner = kind.removeprefix("Array of ")
        for item in value:
            problem = _check_one(item, inner, top=False)
            if problem is not None:
                return problem
        return None
    if kind in types:
        if top and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                return f"expected JSON object for {kind}"
        spec = types[kind]
        if "subtypes" in spec and "fields" not in spec:
            return check_telegram_value(value, list(spec["subtypes"]))
        if not isinstance(value, dict):
            return f"expected {kind} object, got {value!r}"
        return check_telegram_fields(value, spec.get("fields", []), where=kind, top=False)
    return _check_scalar(value, kind, top=top)


def check_telegram_fields(
    params: dict[str, Any], fields: list[dict[str, Any]], *, where: str, top: bool
) -> str | None:
    known = {f["name"]: f for f in fields}
    for name in params:
        if name not in known:
            return f"{where}: unknown parameter {name!r}"
    for field in fields:
        if field["required"] and field["name"] not in params:
            return f"{where}: missing required parameter {field['name']!r}"
    for name, value in params.items():
        problem = check_telegram_value(value, known[name]["types"], top=top)
        if problem is not None:
            return f"{where}.{name}: {problem}"
    return None


def check_telegram_request(method: str, params: dict[str, Any]) -> str | None:
    methods = telegram_spec()["methods"]
    if method not in methods:
        return f"unknown Bot API method {method!r}"
    return check_telegram_fields(params, methods[method].get("fields", []), where=method, top=True)


def check_twilio_form(path_template: str, http_method: str, form: dict[str, Any]) -> str | None:
    """Parameter names known, required ones present, enums and URI formats respected."""
    paths = twilio_spec()["paths"]
    if path_template not in paths or http_method not in paths[path_template]:
        return f"unknown Twilio operation {http_method.upper()} {path_template}"
    operation = paths[path_template][http_method]
    schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    properties: dict[str, Any] = schema["properties"]
    for name in form:
        if name not in properties:
            return f"unknown parameter {name!r}"
    for name in schema.get("required", []):
        if name not in form:
            return f"missing required parameter {name!r}"
    for name, value in form.items():
        prop = properties[name]
        if prop.get("format") == "uri" and not str(value).startswith(("http://", "https://")):
            return f"{name}: must be a URI, got {value!r}"
        if "pattern" in prop and re.fullmatch(prop["pattern"], str(value)) is None:
            return f"{name}: {value!r} does not match {prop['pattern']}"
        if len(str(value)) < prop.get("minLength", 0) or len(str(value)) > prop.get("maxLength", 10**9):
            return f"{name}: length {len(str(value))} outside the allowed range"
        if "enum" in prop and value not in prop["enum"]:
            return f"{name}: {value!r} not one of {prop['enum']}"
        if prop.get("type") == "integer":
            try:
                int(value)
            except ValueError:
                return f"{name}: expected integer"
    return None


def check_twilio_query(path_template: str, http_method: str, query: dict[str, str]) -> str | None:
    """A list request's query: parameter names the operation declares, integers within their bounds, and
    date-times that parse (Twilio's ``DateSent>`` and friends, as the client writes them)."""
    paths = twilio_spec()["paths"]
    if path_template not in paths or http_method not in paths[path_template]:
        return f"unknown Twilio operation {http_method.upper()} {path_template}"
    declared = {p["name"]: p.get("schema", {}) for p in paths[path_template][http_method].get("parameters", [])
                if p.get("in") == "query"}
    for name, value in query.items():
        if name not in declared:
            return f"unknown query parameter {name!r}"
        schema = declared[name]
        if schema.get("type") == "integer":
            try:
                number = int(value)
            except ValueError:
                return f"{name}: expected integer, got {value!r}"
            if number < schema.get("minimum", -(10**18)) or number > schema.get("maximum", 10**18):
                return f"{name}: {number} outside [{schema.get('minimum')}, {schema.get('maximum')}]"
        if schema.get("format") == "date-time" and twilio_datetime(value) is None:
            return f"{name}: {value!r} is not a date-time"
    return None


def twilio_datetime(value: str) -> datetime | None:
    """A date-time as Twilio's filters take it (ISO 8601, ``Z`` for UTC), or a bare date; None if neither."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def check_twilio_record(schema_name: str, record: dict[str, Any]) -> str | None:
    """A resource the fake answers with: only properties the schema names, and nullable where None."""
    properties: dict[str, Any] = twilio_spec()["components"]["schemas"][schema_name]["properties"]
    for name, value in record.items():
        if name not in properties:
            return f"{schema_name}: unknown property {name!r}"
        prop = properties[name]
        if value is None:
            if not prop.get("nullable") and "$ref" not in prop:
                return f"{schema_name}.{name}: not nullable"
            continue
        if "pattern" in prop and re.fullmatch(prop["pattern"], str(value)) is None:
            return f"{schema_name}.{name}: {value!r} does not match {prop['pattern']}"
        if prop.get("type") == "string" and not isinstance(value, str):
            return f"{schema_name}.{name}: expected a string, got {value!r}"
        if prop.get("type") == "integer" and not isinstance(value, int):
            return f"{schema_name}.{name}: expected an integer, got {value!r}"
        if prop.get("format") == "date-time-rfc-2822":
            try:
                parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return f"{schema_name}.{name}: {value!r} is not an RFC 2822 date"
        if "$ref" in prop:
            enum = twilio_spec()["components"]["schemas"][prop["$ref"].rsplit("/", 1)[1]].get("enum")
            if enum is not None and value not in enum:
                return f"{schema_name}.{name}: {value!r} not one of {enum}"
    return None
