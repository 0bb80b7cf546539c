"""List paging: page sizes, orders, and opaque page tokens bound to what they were issued for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Literal, Protocol, TypeVar

from server.domain.characters import MAX_PAGE_TOKEN_CHARS, characters_violation
from server.domain.errors import ErrorReason, InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# total_size counts the matching rows once, for the first page, and stops at this many:
# a count is paid by nobody's budget, so what one costs must not grow with a tenant's rows.
MAX_COUNTED_ROWS = 100_000

SortField = Literal["create_time", "update_time", "batch_item"]
T = TypeVar("T", bound="Sortable")
F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Order:
    field: SortField = "create_time"
    descending: bool = True

    def __str__(self) -> str:
        return f"{self.field} desc" if self.descending else self.field


# A batch's results list in input order unless asked otherwise: that is how a caller
# matches them to the texts it sent.
INPUT_ORDER = Order(field="batch_item", descending=False)


@dataclass(frozen=True, slots=True)
class Cursor:
    """The sort key of the last row of a page: the next page starts after it."""

    value: datetime | int  # an int is a batch_item
    id: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str
    total_size: int


@dataclass(frozen=True, slots=True)
class ListQuery(Generic[F]):
    """A list request as the edge decoded it: the filters, the page size and the order, and
    the page token as sent, which the Pager verifies against the listing before use."""

    where: F
    page_size: int = DEFAULT_PAGE_SIZE
    order: Order = Order()
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page to fetch: ``limit`` rows after ``after`` in ``order``, within ``scope``.

    ``total`` is the count carried by the page token; None on a first page, whose rows
    are counted (up to MAX_COUNTED_ROWS).
    """

    limit: int
    order: Order
    after: Cursor | None
    scope: str
    total: int | None = None


class Sortable(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def create_time(self) -> datetime: ...

    @property
    def update_time(self) -> datetime: ...


def _invalid_token() -> InvalidArgument:
    return InvalidArgument.single(
        "page_token",
        "is not a page token issued for this list, these filters and this order",
        ErrorReason.PAGE_TOKEN_INVALID,
    )


class PageTokens:
    """Encodes cursors as opaque tokens, authenticated and bound to a listing's scope.

    The scope names the caller's tenant, the filters and the order, so a token replayed
    with other filters, by another tenant, or edited by hand is refused. A token also
    carries the listing's total_size, counted once for its first page.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, scope: str, payload: bytes) -> bytes:
        return hmac.new(self._key, scope.encode() + b"\0" + payload, hashlib.sha256).digest()[:16]

    def encode(self, cursor: Cursor, scope: str, total: int = 0) -> str:
        value = cursor.value.isoformat() if isinstance(cursor.value, datetime) else cursor.value
        payload = json.dumps([value, cursor.id, total], separators=(",", ":")).encode()
        raw = self._mac(scope, payload) + payload
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str, scope: str) -> tuple[Cursor, int]:
        """The cursor and total a token carries; InvalidArgument for anything else."""
        if (bad := characters_violation(token, "page_token")) is not None:
            raise InvalidArgument([bad])
        if len(token) > MAX_PAGE_TOKEN_CHARS:
            raise _invalid_token()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raise _invalid_token() from None
        mac, payload = raw[:16], raw[16:]
        if len(mac) != 16 or not hmac.compare_digest(mac, self._mac(scope, payload)):
            raise _invalid_token()
        # Authentic, so issued by a server sharing the key; still checked field by field,
        # so that nothing a token holds can reach a query unvalidated.
        try:
            value, id_, total = json.loads(payload)
            when: datetime | int
            if type(value) is int:  # a batch_item, signed by us like the rest
                if not 0 <= value < 2**31:
                    raise ValueError(value)
                when = value
            else:
                when = datetime.fromisoformat(value)
                if when.tzinfo is None or not 1970 <= when.astimezone(UTC).year <= 9999:
                    raise ValueError(value)
            uuid.UUID(id_)
            if type(total) is not int or not 0 <= total <= MAX_COUNTED_ROWS:
                raise ValueError(total)
        except (ValueError, TypeError, AttributeError, OverflowError):
            raise _invalid_token() from None
        return Cursor(when, str(id_)), total


def scope_of(*parts: object) -> str:
    """A listing's scope, unambiguous whatever its parts hold (JSON, not a separator)."""
    return json.dumps([str(part) for part in parts], separators=(",", ":"))


class Pager:
    """Turns list requests into PageRequests and fetched rows into Pages with tokens."""

    def __init__(self, tokens: PageTokens) -> None:
        self._tokens = tokens

    def request(self, scope: Sequence[object], query: ListQuery[F]) -> PageRequest:
        """The page ``query`` asks for, within ``scope`` (the listing and its filters); its
        page token must have been issued for that scope and order."""
        bound = scope_of(*scope, query.order)
        after, total = (
            self._tokens.decode(query.page_token, bound) if query.page_token else (None, None)
        )
        return PageRequest(query.page_size, query.order, after, bound, total)

    def page(self, request: PageRequest, rows: list[T], total_size: int) -> Page[T]:
        """``rows`` were fetched with a limit one above the page's, to see if more follow."""
        items = rows[: request.limit]
        token = ""
        if len(rows) > request.limit:
            last = items[-1]
            cursor = Cursor(getattr(last, request.order.field), last.id)
            token = self._tokens.encode(cursor, request.scope, total_size)
        return Page(items=items, next_page_token=token, total_size=total_size)
