"""Messages as JSON, byte for byte as grpcurl prints them, so the two can be diffed.

grpcurl (1.8, through jhump/protoreflect's dynamic messages) prints the canonical proto3
JSON mapping: lowerCamelCase keys (each field's ``json_name``), fields in field-number
order, fields at their default left out, enum values by name, Timestamps as RFC 3339.
Three details differ from Python's ``json_format.MessageToJson`` and are reproduced here:

- numbers are Go's ``strconv.FormatFloat(x, 'g', -1, 64)``: ``1`` not ``1.0``, and
  exponents from 1e+06 up and below 1e-04 (``1.5e+06``, ``3e-05``);
- strings are Go's ``json.Marshal``: ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as
  ``\\u003c`` and so on, other control characters as ``\\u00XX``;
- indentation is two spaces with ``": "`` after keys, and an empty object or list keeps
  its (empty) inner line. Compact output has no spaces at all.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_STRING_TYPES = frozenset(
    {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
)
_QUOTED_INTS = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_FLOATS = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})

# Go's encoding/json escapes (as of Go 1.16, which built the grpcurl we compare with).
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPES.update({c: f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"})
_ESCAPES.update({chr(n): f"\\u{n:04x}" for n in range(0x20) if chr(n) not in _ESCAPES})


_SURROGATES = re.compile("[\ud800-\udfff]")


class Raw(str):
    """A JSON fragment written as it is (a number already in Go's notation)."""


def go_float(value: float) -> Raw:  # noqa: PLR0911 - one return per notation
    """``value`` as Go's ``strconv.FormatFloat(value, 'g', -1, 64)`` writes it."""
    if math.isnan(value):
        return Raw('"NaN"')
    if math.isinf(value):
        return Raw('"Infinity"' if value > 0 else '"-Infinity"')
    if value == 0:
        return Raw("-0" if math.copysign(1.0, value) < 0 else "0")
    # repr gives the shortest digits that round-trip, as Go's -1 precision does.
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # digits before the decimal point
    decimal_exponent = point - 1
    minus = "-" if sign else ""
    if decimal_exponent < -4 or decimal_exponent >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        mark = "-" if decimal_exponent < 0 else "+"
        return Raw(f"{minus}{mantissa}e{mark}{abs(decimal_exponent):02d}")
    if point <= 0:
        return Raw(f"{minus}0.{'0' * -point}{text}")
    if point >= len(text):
        return Raw(f"{minus}{text}{'0' * (point - len(text))}")
    return Raw(f"{minus}{text[:point]}.{text[point:]}")


def go_string(value: str) -> str:
    """A JSON string literal as Go's ``json.Marshal`` writes it."""
    # A lone surrogate is not valid UTF-8: Go writes the replacement character.
    return (
        '"'
        + "".join(_ESCAPES.get(c) or ("\ufffd" if _SURROGATES.match(c) else c) for c in value)
        + '"'
    )


def message_tree(message: Message) -> Any:
    """The message as plain values in grpcurl's order: dicts, lists, str, int, bool, Raw."""
    name = message.DESCRIPTOR.full_name
    if name in _STRING_TYPES:
        return message.ToJsonString()  # type: ignore[attr-defined]
    tree: dict[str, Any] = {}
    field: Any  # protobuf's stubs describe the pure-Python descriptors, not upb's
    for field, value in message.ListFields():
        if field.is_repeated:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                tree[field.json_name] = {
                    str(k): _value(value_field, value[k]) for k in sorted(value)
                }
            else:
                tree[field.json_name] = [_value(field, item) for item in value]
        else:
            tree[field.json_name] = _value(field, value)
    return tree


def _value(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message_tree(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    if field.type in _FLOATS:
        return go_float(value)
    if field.type in _QUOTED_INTS:
        return str(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        import base64  # noqa: PLC0415 - no textlens message has bytes today

        return base64.b64encode(value).decode()
    return value


def dumps(tree: Any, *, indent: bool) -> str:
    """JSON text of a tree from ``message_tree`` (or dicts and lists holding them)."""
    out: list[str] = []
    _write(tree, out, 0 if indent else -1)
    return "".join(out)


def _write(value: Any, out: list[str], level: int) -> None:
    if isinstance(value, Raw):
        out.append(value)
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(go_float(value))
    elif isinstance(value, str):
        out.append(go_string(value))
    elif value is None:
        out.append("null")
    elif isinstance(value, dict):
        _container("{", "}", list(value.items()), out, level)
    else:
        _container("[", "]", [(None, item) for item in value], out, level)


def _container(
    opening: str, closing: str, items: list[tuple[str | None, Any]], out: list[str], level: int
) -> None:
    out.append(opening)
    inner = level + 1 if level >= 0 else -1
    newline = "\n" + "  " * inner if level >= 0 else ""
    out.append(newline)
    for number, (key, item) in enumerate(items):
        if number:
            out.append("," + newline)
        if key is not None:
            out.append(go_string(key))
            out.append(": " if level >= 0 else ":")
        _write(item, out, inner)
    if level >= 0:
        out.append("\n" + "  " * level)
    out.append(closing)
