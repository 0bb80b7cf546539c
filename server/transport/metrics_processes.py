"""The supervisor's /metrics: its server processes' figures combined, with process_* and
python_info for the group. Kept apart from server.transport.metrics so that the
supervisor, which lives as long as its children, imports neither grpc nor the service."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import PLATFORM_COLLECTOR, PROCESS_COLLECTOR, CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

# process_* figures that add up across processes; the others are the supervisor's own.
_SUMMED = {
    "process_cpu_seconds",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
}


class ProcessesCollector(Collector):
    """process_* for a group of server processes, as one service: CPU, memory and open
    files summed over the supervisor and its live children; start time and limits the
    supervisor's."""

    def __init__(self, children: Callable[[], Iterable[int]]) -> None:
        self._children = children

    def collect(self) -> Iterable[Metric]:
        own = list(PROCESS_COLLECTOR.collect())
        totals: dict[str, float] = {}
        for pid in self._children():
            for family in ProcessCollector(pid=_constant(pid), registry=None).collect():
                if family.name in _SUMMED and family.samples:
                    totals[family.name] = totals.get(family.name, 0.0) + family.samples[0].value
        for family in own:
            if family.name in _SUMMED and family.samples:
                sample = family.samples[0]
                family.samples[0] = sample._replace(value=sample.value + totals.get(family.name, 0))
            yield family


def _constant(pid: int) -> Callable[[], int]:
    return lambda: pid


def combined_registry(directory: str, children: Callable[[], Iterable[int]]) -> CollectorRegistry:
    """The supervisor's registry: its children's figures from their files, added up, and
    the group's process_* and python_info."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    registry.register(ProcessesCollector(children))
    registry.register(PLATFORM_COLLECTOR)
    return registry
