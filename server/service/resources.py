"""What the analysis and batch use cases share: reading one kind of stored resource."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from server.domain.errors import AlreadyExists, ErrorReason, NotFound
from server.domain.validation import require_id
from server.service.paging import (
    MAX_COUNTED_ROWS,
    ListQuery,
    Page,
    Pager,
    PageRequest,
    Sortable,
)
from server.service.ports import UnitOfWork, UnitOfWorkFactory


class _Resource(Sortable, Protocol):
    @property
    def request_id(self) -> str | None: ...

    @property
    def payload_hash(self) -> str | None: ...


T = TypeVar("T", bound=_Resource)
F = TypeVar("F")
F_contra = TypeVar("F_contra", contravariant=True)


class _Repository(Protocol[T, F_contra]):
    """What the analysis and the batch repositories have in common."""

    async def get(self, tenant: str, resource_id: str, /) -> T | None: ...

    async def get_by_request_id(self, tenant: str, request_id: str, /) -> T | None: ...

    async def list_page(self, tenant: str, where: F_contra, page: PageRequest, /) -> list[T]: ...

    async def count(self, tenant: str, where: F_contra, *, at_most: int) -> int: ...


class Resources(Generic[T, F]):
    """One kind of resource in storage, read by id, by request id or a page at a time, each
    read in a unit of work of its own."""

    def __init__(
        self,
        kind: str,
        not_found_reason: ErrorReason,
        uow: UnitOfWorkFactory,
        repository: Callable[[UnitOfWork], _Repository[T, F]],
        pager: Pager,
    ) -> None:
        self._kind = kind
        self._not_found_reason = not_found_reason
        self._uow = uow
        self._repository = repository
        self._pager = pager

    def not_found(self, resource_id: str) -> NotFound:
        return NotFound(f"{self._kind} {resource_id!r} not found", reason=self._not_found_reason)

    async def get(self, tenant: str, resource_id: str) -> T:
        require_id(resource_id)
        async with self._uow() as uow:
            found = await self._repository(uow).get(tenant, resource_id)
        if found is None:
            raise self.not_found(resource_id)
        return found

    async def replayed(self, tenant: str, request_id: str, payload_hash: str | None) -> T | None:
        """What a create with this request id stored, to answer its retry with; None if
        nothing; AlreadyExists if the request id was used with another payload."""
        async with self._uow() as uow:
            stored = await self._repository(uow).get_by_request_id(tenant, request_id)
        if stored is not None and stored.payload_hash != payload_hash:
            raise AlreadyExists(
                f"request_id {stored.request_id!r} was already used with another payload",
                reason=ErrorReason.REQUEST_ID_REUSED,
            )
        return stored

    async def list(self, tenant: str, query: ListQuery[F], scope: Sequence[object]) -> Page[T]:
        """One page of the tenant's resources; its page token is checked against ``scope``
        (the listing, the tenant and the filters) before storage is read."""
        request = self._pager.request(scope, query)
        async with self._uow() as uow:
            repository = self._repository(uow)
            rows = await repository.list_page(tenant, query.where, request)
            total = request.total
            if total is None:  # a first page: later pages carry this count in their token
                total = await repository.count(tenant, query.where, at_most=MAX_COUNTED_ROWS)
        return self._pager.page(request, rows, total)
