"""The curated public surface: what `import textlens` offers, and nothing private."""

from __future__ import annotations

import importlib.resources
import inspect

import textlens

EXPECTED = {
    "AsyncClient",
    "Client",
    "SyncIterator",
    "TLS",
    "Keepalive",
    "TokenSource",
    "Retry",
    "DEFAULT",
    "StreamInput",
    "StreamResult",
    "Analysis",
    "AnalysisStatus",
    "AnalysisType",
    "Batch",
    "BatchStatus",
    "ListAnalysesResponse",
    "ListBatchesResponse",
    "TextLensError",
    "FieldViolation",
    "ProtocolError",
    "Cancelled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
    "readable",
    "Readable",
    "NamedEnum",
}


def test_all_lists_exactly_the_public_names_sorted_and_once() -> None:
    assert set(textlens.__all__) == EXPECTED
    assert len(textlens.__all__) == len(set(textlens.__all__))
    assert textlens.__all__ == sorted(textlens.__all__, key=lambda n: (not n.isupper(), n))


def test_every_public_name_resolves() -> None:
    for name in textlens.__all__:
        assert getattr(textlens, name) is not None


def test_public_classes_present_themselves_as_textlens_names() -> None:
    for name in textlens.__all__:
        obj = getattr(textlens, name)
        if inspect.isclass(obj) and obj.__module__.startswith("textlens._"):
            assert not obj.__name__.startswith("_"), name


def test_nothing_private_leaks_into_the_namespace() -> None:
    public = {n for n in vars(textlens) if not n.startswith("_")}
    # Submodules are reachable as attributes once imported; they are not API.
    assert public - set(textlens.__all__) <= {"v1"}


def test_py_typed_is_shipped() -> None:
    assert importlib.resources.files("textlens").joinpath("py.typed").is_file()


def test_methods_of_both_clients_match() -> None:
    def methods(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}

    assert methods(textlens.AsyncClient) == methods(textlens.Client)


def test_timeouts_are_keyword_only_on_every_call() -> None:
    for name, method in inspect.getmembers(textlens.AsyncClient, inspect.isfunction):
        if name.startswith("_") or name == "close":
            continue
        parameter = inspect.signature(method).parameters["timeout"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
