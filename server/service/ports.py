"""Ports the use cases need: repositories and the unit of work, implemented by adapters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from server.domain.model import Analysis, AnalysisStatus, AnalysisType
from server.service.paging import PageRequest


class DuplicateRequestId(Exception):
    """An insert collided with a stored row of the same tenant and request id."""


@dataclass(frozen=True, slots=True)
class AnalysisFilter:
    analysis_type: AnalysisType | None = None
    status: AnalysisStatus | None = None
    batch_id: str | None = None


class AnalysisRepository(Protocol):
    async def add(self, analysis: Analysis) -> None:
        """Stores a new analysis; DuplicateRequestId if its request id is taken."""

    async def add_many(self, analyses: Sequence[Analysis]) -> None:
        """Stores new analyses that carry no request id, in one statement."""

    async def get(self, tenant: str, analysis_id: str) -> Analysis | None: ...

    async def get_by_request_id(self, tenant: str, request_id: str) -> Analysis | None: ...

    async def delete(self, tenant: str, analysis_id: str) -> bool:
        """True if a row was deleted."""

    async def list_page(
        self, tenant: str, where: AnalysisFilter, page: PageRequest
    ) -> list[Analysis]:
        """Up to ``page.limit + 1`` analyses after the page's cursor, in its order."""

    async def count(self, tenant: str, where: AnalysisFilter) -> int: ...


class UnitOfWork(Protocol):
    """A transaction: rolled back on exit unless the use case committed."""

    @property
    def analyses(self) -> AnalysisRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
