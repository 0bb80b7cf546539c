"""Query pieces shared by the repositories: ids from callers, and keyset pages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, Uuid, func, literal, select, tuple_

from server.adapters.db.tables import UTCDateTime
from server.service.paging import PageRequest


def parse_uuid(value: str) -> uuid.UUID | None:
    """An id that is not a UUID names nothing: callers treat it as not found."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def keyset_page(
    table: Table, conditions: Sequence[ColumnElement[bool]], page: PageRequest
) -> Select[Any]:
    """One page of ``table`` in the page's order, plus one row to tell whether more follow.

    Keyset: rows strictly after the last one seen, by a row-value comparison on (sort
    field, id), so that both databases seek in the (tenant, sort, id) index instead of
    scanning to it. ``batch_item`` is unique within the one batch such a listing is
    filtered to, so it is the whole key and the (batch_id, batch_item) index serves it.
    """
    sort, key_id = table.c[page.order.field], table.c.id
    where = list(conditions)
    if page.order.field == "batch_item":
        if page.after is not None:
            item = literal(page.after.value, sort.type)
            where.append(sort < item if page.order.descending else sort > item)
        by_item = sort.desc() if page.order.descending else sort
        return select(table).where(*where).order_by(by_item).limit(page.limit + 1)
    if page.after is not None:
        key = tuple_(sort, key_id)
        bound = tuple_(
            literal(page.after.value, UTCDateTime()), literal(parse_uuid(page.after.id), Uuid())
        )
        where.append(key < bound if page.order.descending else key > bound)
    ordering = (sort.desc(), key_id.desc()) if page.order.descending else (sort, key_id)
    return select(table).where(*where).order_by(*ordering).limit(page.limit + 1)


def bounded_count(
    table: Table, conditions: Sequence[ColumnElement[bool]], at_most: int
) -> Select[Any]:
    """COUNT of the matching rows, reading no more than ``at_most`` of them."""
    matching = select(literal(1)).select_from(table).where(*conditions).limit(at_most)
    return select(func.count()).select_from(matching.subquery())
