"""The one seam where database failures become domain errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import structlog
from sqlalchemy import exc as sa_exc

from server.domain.errors import Unavailable
from server.service.ports import DuplicateRequestId

P = ParamSpec("P")
R = TypeVar("R")

log = structlog.get_logger("textlens.db")

UNAVAILABLE_MESSAGE = "the database is unavailable; retry later"


# SQLSTATE classes that mean "cannot reach or use the server now": connection exceptions,
# insufficient resources, operator intervention (shutdown, cannot connect now).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "55000")


def _sqlstate(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def _unavailable(exc: BaseException) -> Unavailable:
    log.warning("database unavailable", error=type(exc).__name__, sqlstate=_sqlstate(exc))
    return Unavailable(UNAVAILABLE_MESSAGE)


def translate(exc: BaseException, *, connecting: bool = False) -> BaseException | None:
    """The domain error for a database failure, or None when it is not one we map.

    Any failure while connecting means the database is unavailable; afterwards only
    connection-level failures do, and anything else is a bug that surfaces as INTERNAL.
    """
    if isinstance(exc, sa_exc.IntegrityError):
        return DuplicateRequestId() if "request_id" in str(exc.orig) else None
    if connecting or isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | sa_exc.DisconnectionError
        | OSError
        | TimeoutError
        | asyncio.TimeoutError,
    ):
        return _unavailable(exc)
    if isinstance(exc, sa_exc.DBAPIError) and (
        exc.connection_invalidated or _sqlstate(exc).startswith(_UNAVAILABLE_SQLSTATES)
    ):
        return _unavailable(exc)
    return None


def translated(
    func: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Runs a storage call, raising the domain error for a database failure."""
    return _translating(func, connecting=False)


def translated_connect(
    func: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Like ``translated``, for calls that open connections: every failure is UNAVAILABLE."""
    return _translating(func, connecting=True)


def _translating(
    func: Callable[P, Coroutine[Any, Any, R]], *, connecting: bool
) -> Callable[P, Coroutine[Any, Any, R]]:
    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except (sa_exc.SQLAlchemyError, OSError, TimeoutError) as exc:
            mapped = translate(exc, connecting=connecting)
            if mapped is None:
                raise
            raise mapped from exc

    return wrapper
