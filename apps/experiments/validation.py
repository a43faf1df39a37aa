"""What a prompt version may hold, checked before anything is written: each refusal is a 400 with a
stable code (``invalid_name``, ``invalid_label``, ``invalid_template``, ``invalid_tools``,
``invalid_settings``, ``invalid_message``) and the field at fault.

Tools are a list of definitions, either OpenAI's shape ``{"type": "function", "function": {"name",
"description", "parameters"}}`` or the flat ``{"name", "description", "parameters"}`` (Anthropic's
``input_schema`` is read as ``parameters``). Names are unique; ``parameters`` must be a valid JSON
Schema: it is checked against its metaschema (``jsonschema``'s ``check_schema``, Draft 2020-12
unless the schema names another draft in ``$schema``).
"""

from __future__ import annotations

import json
import re

from apps.core.errors import ValidationFailed
from apps.core.text import InvalidText, clean_json, clean_text
from apps.experiments.models import LABEL_PATTERN, NAME_PATTERN

NAME_RE = re.compile(rf"^{NAME_PATTERN}$")
LABEL_RE = re.compile(rf"^{LABEL_PATTERN}$")
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_TEMPLATE_CHARS = 200_000
MAX_MESSAGE_CHARS = 2_000
MAX_DESCRIPTION_CHARS = 2_000
MAX_TOOLS = 128
MAX_JSON_BYTES = 256 * 1024
NUMERIC_SETTINGS = {  # name → (minimum, maximum, integer)
    "temperature": (0.0, 2.0, False),
    "top_p": (0.0, 1.0, False),
    "max_tokens": (1, 10_000_000, True),
    "frequency_penalty": (-2.0, 2.0, False),
    "presence_penalty": (-2.0, 2.0, False),
}


def prompt_name(value, field: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValidationFailed(
            "A prompt name is 1–100 letters, digits, '.', '_' or '-', starting with a letter or digit.",
            code="invalid_name", field=field,
        )
    return value


def label_name(value, field: str = "label") -> str:
    if not isinstance(value, str) or not LABEL_RE.match(value):
        raise ValidationFailed(
            "A label is 1–50 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. production).",
            code="invalid_label", field=field,
        )
    return value


def version_number(value, field: str = "version") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationFailed("A version is a positive whole number.", code="invalid_version", field=field)
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 2_147_483_647:
        raise ValidationFailed("A version is a positive whole number.", code="invalid_version", field=field)
    return int(text)


def _text(value, *, field: str, code: str, max_length: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} is text.", code=code, field=field)
    try:
        value = clean_text(value)
    except InvalidText as error:
        raise ValidationFailed(str(error), code=code, field=field) from None
    if required and not value:
        raise ValidationFailed(f"{field} is required.", code=code, field=field)
    if len(value) > max_length:
        raise ValidationFailed(f"{field} is at most {max_length:,} characters.", code=code, field=field)
    return value


def template_text(value) -> str:
    return _text(value, field="template", code="invalid_template", max_length=MAX_TEMPLATE_CHARS, required=True)


def message_text(value) -> str:
    return _text(value, field="message", code="invalid_message", max_length=MAX_MESSAGE_CHARS, required=False)


def description_text(value) -> str:
    return _text(value, field="description", code="invalid_description", max_length=MAX_DESCRIPTION_CHARS, required=False)


def template_variables(template: str) -> list[str]:
    """The ``{{variable}}`` names of a template, in order of first appearance."""
    return list(dict.fromkeys(VARIABLE_RE.findall(template)))


def _json_value(value, *, field: str, code: str):
    try:
        value = clean_json(value)
    except InvalidText as error:
        raise ValidationFailed(str(error), code=code, field=field) from None
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_JSON_BYTES:
        raise ValidationFailed(f"{field} is larger than {MAX_JSON_BYTES // 1024} KiB.", code=code, field=field)
    return value


def _tool_error(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_tools", field=field)


def _check_schema(schema, field: str) -> None:
    from jsonschema import exceptions as schema_exceptions
    from jsonschema import validators

    if not isinstance(schema, dict):
        raise _tool_error("parameters must be a JSON Schema object.", field)
    try:
        validator = validators.validator_for(schema, default=validators.Draft202012Validator)
        validator.check_schema(schema)
    except schema_exceptions.SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path)
        raise _tool_error(f"parameters is not a valid JSON Schema{f' at {where}' if where else ''}: {error.message}"[:500], field) from None
    except Exception as error:  # noqa: BLE001 - an unresolvable $schema or $ref is the caller's input
        raise _tool_error(f"parameters is not a valid JSON Schema: {error}"[:500], field) from None


def tool_definitions(value) -> list:
    """The tools list, validated (see the module doc); stored as given."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _tool_error("tools is a list of tool definitions.", "tools")
    if len(value) > MAX_TOOLS:
        raise _tool_error(f"At most {MAX_TOOLS} tools.", "tools")
    value = _json_value(value, field="tools", code="invalid_tools")
    seen: set[str] = set()
    for index, tool in enumerate(value):
        field = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _tool_error("A tool definition is an object.", field)
        body = tool
        if "function" in tool:
            if not isinstance(tool["function"], dict):
                raise _tool_error("function is an object with name, description and parameters.", f"{field}.function")
            body, field = tool["function"], f"{field}.function"
        name = body.get("name")
        if not isinstance(name, str) or not TOOL_NAME_RE.match(name):
            raise _tool_error("A tool needs a name of 1–64 letters, digits, '_', '.' or '-'.", f"{field}.name")
        if name in seen:
            raise _tool_error(f"Two tools are named {name!r}.", f"{field}.name")
        seen.add(name)
        if "description" in body and not isinstance(body["description"], str):
            raise _tool_error("description is text.", f"{field}.description")
        for key in ("parameters", "input_schema"):
            if key in body:
                _check_schema(body[key], f"{field}.{key}")
    return value


def model_settings(value) -> dict:
    """Settings: an object; ``model`` is text, the usual sampling numbers are in range; any other
    key is kept as given."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed("settings is an object (model, temperature, max_tokens, …).", code="invalid_settings", field="settings")
    value = _json_value(value, field="settings", code="invalid_settings")
    model = value.get("model")
    if model is not None and (not isinstance(model, str) or not 0 < len(model) <= 200):
        raise ValidationFailed("settings.model is a model name (1–200 characters).", code="invalid_settings", field="settings.model")
    for key, (low, high, integer) in NUMERIC_SETTINGS.items():
        if key not in value or value[key] is None:
            continue
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, (int, float)) or (integer and not isinstance(number, int)):
            kind = "a whole number" if integer else "a number"
            raise ValidationFailed(f"settings.{key} is {kind}.", code="invalid_settings", field=f"settings.{key}")
        if not low <= number <= high:
            raise ValidationFailed(f"settings.{key} is between {low} and {high}.", code="invalid_settings", field=f"settings.{key}")
    return value
