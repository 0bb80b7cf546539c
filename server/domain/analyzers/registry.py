"""Which analyzer serves each analysis type: the built-in ones, or classes named in config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module

from server.domain.analyzers.base import Analyzer, AnalyzerInfo
from server.domain.analyzers.emotion import EmotionAnalyzer
from server.domain.analyzers.quality import QualityAnalyzer
from server.domain.analyzers.sentiment import SentimentAnalyzer
from server.domain.model import AnalysisType

DEFAULTS: dict[AnalysisType, Callable[[], Analyzer]] = {
    AnalysisType.SENTIMENT: SentimentAnalyzer,
    AnalysisType.QUALITY: QualityAnalyzer,
    AnalysisType.EMOTION: EmotionAnalyzer,
}


class AnalyzerConfigError(ValueError):
    """An analyzer override names an unknown type, an unloadable class, or a wrong one."""


def default_analyzers() -> dict[AnalysisType, Analyzer]:
    """One instance of each built-in analyzer (this loads their lexicons)."""
    return load_analyzers(None)


def load_analyzers(overrides: Mapping[str, str] | None = None) -> dict[AnalysisType, Analyzer]:
    """The built-in analyzers, with some replaced by configuration.

    ``overrides`` maps a type name ("sentiment", "quality", "emotion") to the class to use
    instead, as "package.module:ClassName"; the class is called with no arguments.
    """
    factories = dict(DEFAULTS)
    for type_name, path in (overrides or {}).items():
        try:
            analysis_type = AnalysisType[type_name.strip().upper()]
        except KeyError:
            known = ", ".join(t.name.lower() for t in AnalysisType)
            raise AnalyzerConfigError(f"unknown analysis type {type_name!r} ({known})") from None
        factories[analysis_type] = import_factory(path)
    analyzers = {analysis_type: factory() for analysis_type, factory in factories.items()}
    for analysis_type, analyzer in analyzers.items():
        _check(analysis_type, analyzer)
    return analyzers


def import_factory(path: str) -> Callable[[], Analyzer]:
    """The class (or factory) named by "package.module:Name"."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise AnalyzerConfigError(f"analyzer {path!r} is not of the form 'package.module:Class'")
    try:
        factory = getattr(import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise AnalyzerConfigError(f"cannot load analyzer {path!r}: {exc}") from exc
    if not callable(factory):
        raise AnalyzerConfigError(f"analyzer {path!r} is not a class")
    return factory  # type: ignore[no-any-return]


def _check(analysis_type: AnalysisType, analyzer: object) -> None:
    name = type(analyzer).__qualname__
    if not isinstance(analyzer, Analyzer):
        raise AnalyzerConfigError(f"{name} lacks analysis_type, info or analyze()")
    if not isinstance(analyzer.info, AnalyzerInfo):
        raise AnalyzerConfigError(f"{name}.info is not an AnalyzerInfo")
    if analyzer.analysis_type != analysis_type:
        raise AnalyzerConfigError(
            f"{name} analyses {analyzer.analysis_type!r}, configured for {analysis_type.name}"
        )
