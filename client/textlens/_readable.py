"""Readable views of result messages: enum values that print as names, times as datetimes.

The client returns the generated ``textlens.v1`` messages, whose enum fields read as
plain ints (``analysis.sentiment.label == 1``). ``readable(message)`` wraps one in a
read-only view in the manner of proto-plus (google-cloud-* libraries): enum fields come
back as IntEnum members that still equal the numbers but print as their short names
(``POSITIVE``), Timestamps as aware datetimes, unset optional fields and timestamps as
None, nested messages as views again. The messages themselves are unchanged, so code
that compares with ``analysis_pb2.SENTIMENT_LABEL_POSITIVE`` keeps working.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


class NamedEnum(enum.IntEnum):
    """An enum value of the contract: equal to its number, printed as its short name.

    ``str()`` and ``format()`` give the name without the enum's prefix (``POSITIVE``);
    ``full_name`` gives the name in the contract (``SENTIMENT_LABEL_POSITIVE``).
    """

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)

    def __repr__(self) -> str:
        return self.name

    @property
    def full_name(self) -> str:
        descriptor: Any = getattr(type(self), "descriptor")  # noqa: B009 - set by named_enum
        return str(descriptor.values_by_number[self.value].name)


_ENUMS: dict[str, type[NamedEnum]] = {}


# Descriptors are typed loosely here: protobuf's stubs describe the pure-Python classes,
# while the upb runtime hands out its own.
def _prefix(descriptor: Any) -> str:
    # buf's ENUM_VALUE_PREFIX rule: values start with the enum's name in UPPER_SNAKE_CASE.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", descriptor.name).upper() + "_"


def named_enum(descriptor: Any) -> type[NamedEnum]:
    """The NamedEnum class for one of the contract's enums (made once, then reused)."""
    made = _ENUMS.get(descriptor.full_name)
    if made is None:
        prefix = _prefix(descriptor)
        members = [(v.name.removeprefix(prefix), v.number) for v in descriptor.values]
        functional: Any = NamedEnum
        made = cast("type[NamedEnum]", functional(descriptor.name, members, module=__name__))
        setattr(made, "descriptor", descriptor)  # noqa: B010 - read by full_name
        _ENUMS[descriptor.full_name] = made
    return made


def _time(message: Message) -> datetime:
    return message.ToDatetime(tzinfo=UTC)  # type: ignore[attr-defined,no-any-return]


def _convert(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum_class = named_enum(field.enum_type)
        return enum_class(value) if value in enum_class._value2member_map_ else value
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return _time(value)
        return Readable(value)
    return value


class Readable(Generic[M]):
    """A read-only view of a message; see ``readable``.

    Attributes are the message's fields. ``__wrapped__`` is the message itself; any
    other attribute of the message (``WhichOneof``, ``HasField``, ...) passes through.
    Two views are equal when their messages are.
    """

    __slots__ = ("__wrapped__",)

    def __init__(self, message: M) -> None:
        object.__setattr__(self, "__wrapped__", message)

    def __getattr__(self, name: str) -> Any:
        message: Message = self.__wrapped__
        field: Any = message.DESCRIPTOR.fields_by_name.get(name)
        if field is None:
            return getattr(message, name)
        value = getattr(message, name)
        if field.is_repeated:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                entry = field.message_type.fields_by_name["value"]
                return {k: _convert(entry, v) for k, v in value.items()}
            return tuple(_convert(field, item) for item in value)
        # Unset optional scalars and timestamps read as None; unset messages as empty views.
        if (
            field.has_presence
            and not message.HasField(name)
            and (
                field.type != FieldDescriptor.TYPE_MESSAGE
                or field.message_type.full_name == "google.protobuf.Timestamp"
            )
        ):
            return None
        return _convert(field, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a readable view is read-only; change the message itself")

    def __dir__(self) -> list[str]:
        return sorted(self.__wrapped__.DESCRIPTOR.fields_by_name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Readable):
            return bool(self.__wrapped__ == other.__wrapped__)
        return NotImplemented

    def __hash__(self) -> int:
        raise TypeError("a readable view is not hashable (messages are mutable)")

    def __repr__(self) -> str:
        message: Message = self.__wrapped__
        parts = [
            f"{field.name}={_show(getattr(self, field.name))}" for field, _ in message.ListFields()
        ]
        return f"{message.DESCRIPTOR.name}({', '.join(parts)})"


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


def readable(message: M) -> Readable[M]:
    """A read-only view of a result message that shows names, not numbers.

    view = readable(analysis)
    print(view.status, view.sentiment.label)   # COMPLETED POSITIVE
    view.sentiment.label == analysis_pb2.SENTIMENT_LABEL_POSITIVE   # True
    view.create_time                            # datetime, UTC
    view.batch_item                             # None outside a batch
    """
    if not isinstance(message, Message):
        raise TypeError(f"readable() takes a protobuf message, not {type(message).__name__}")
    return Readable(message)
