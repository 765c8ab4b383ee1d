"""The tools offered to a model, read from any provider's tool definitions."""

from __future__ import annotations

from typing import Any

from ..errors import shorten
from ..paths import json_type
from ._base import ResponseError, either_case, got, plain

__all__ = ["offered_list", "offered_tools", "openapi_schema"]


def offered_tools(tools: Any) -> dict[str, dict[str, Any]]:
    """The tools offered to a model, by name: ``{"name", "description", "parameters"}``.

    Reads OpenAI chat (``{"type": "function", "function": {...}}``) and responses API
    (``{"type": "function", "name", "parameters"}``) tools, Anthropic's (``input_schema``),
    Gemini's (``functionDeclarations``, their OpenAPI types such as ``"OBJECT"`` turned into
    JSON Schema), a mapping of names to parameter schemas, or a normalised record's ``tools``.
    A built-in tool without a schema (``web_search``) has ``parameters`` null.

    Raises:
        ResponseError: not a list of tools (or a mapping), or a tool without a name.

    Example:
        >>> offered_tools([{"name": "get_weather", "input_schema": {"type": "object"}}])
        {'get_weather': {'name': 'get_weather', 'description': None, 'parameters': {'type': 'object'}}}
    """
    tools = plain(tools)
    if type(tools) is dict:
        return {str(k): {"name": str(k), "description": None, "parameters": v} for k, v in tools.items()}
    return {t["name"]: t for t in offered_list(tools)}


def offered_list(tools: Any) -> list[dict[str, Any]]:
    """:func:`offered_tools` as a list, in the order given."""
    if not isinstance(tools, list):
        raise ResponseError(f"needs a list of tool definitions, got {got(tools)}")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        tool = plain(tool)
        if type(tool) is not dict:
            raise ResponseError(f"tool {i} is {json_type(tool)}, not an object")
        declarations = either_case(tool, "functionDeclarations", "function_declarations")
        if isinstance(declarations, list):
            for d in declarations:
                if type(d) is dict:
                    schema = either_case(d, "parametersJsonSchema", "parameters_json_schema")
                    if schema is None and d.get("parameters") is not None:
                        schema = openapi_schema(d["parameters"])
                    out.append(_tool(d.get("name"), d.get("description"), schema, i))
            continue
        fn = tool.get("function")
        if type(fn) is dict:
            out.append(_tool(fn.get("name"), fn.get("description"), fn.get("parameters"), i))
        elif "input_schema" in tool:
            out.append(_tool(tool.get("name"), tool.get("description"), tool.get("input_schema"), i))
        elif "name" in tool:
            out.append(_tool(tool.get("name"), tool.get("description"), tool.get("parameters"), i))
        elif isinstance(tool.get("type"), str):  # a built-in tool, named by its type
            out.append(_tool(tool["type"], None, None, i))
        else:
            raise ResponseError(f"tool {i} has no name: {shorten(repr(tool), 60)}")
    return out


def _tool(name: Any, description: Any, parameters: Any, i: int) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise ResponseError(f"tool {i} has no name")
    return {"name": name, "description": description, "parameters": parameters}


def openapi_schema(schema: Any) -> Any:
    """A Gemini parameter schema (OpenAPI 3 subset: ``"type": "OBJECT"``, ``nullable``) as JSON
    Schema.

    Example:
        >>> openapi_schema({"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "nullable": True}}})
        {'type': 'object', 'properties': {'n': {'type': ['integer', 'null']}}}
    """
    if isinstance(schema, list):
        return [openapi_schema(s) for s in schema]
    if type(schema) is not dict:
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "type" and isinstance(v, str):
            out[k] = v.lower()
        elif k in ("nullable", "propertyOrdering", "property_ordering"):
            continue
        elif k in ("properties",) and type(v) is dict:
            out[k] = {name: openapi_schema(s) for name, s in v.items()}
        elif k in ("items", "anyOf", "any_of"):
            out["anyOf" if k == "any_of" else k] = openapi_schema(v)
        else:
            out[k] = v
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out
