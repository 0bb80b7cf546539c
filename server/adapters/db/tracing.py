"""Database spans: one CLIENT span per statement, a child of the call's server span."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# Statements are recorded without their parameters (texts are user data), and shortened.
_MAX_STATEMENT_CHARS = 1000


def trace_engine(
    engine: AsyncEngine, tracer_provider: trace.TracerProvider | None, *, background: bool = False
) -> None:
    """Statements of a traced call become its children; others (batch work, health and
    gauge polls) are traced only when ``background`` asks, as they would be root spans."""
    tracer = trace.get_tracer("textlens.db", tracer_provider=tracer_provider)
    system = "postgresql" if engine.dialect.name == "postgresql" else engine.dialect.name
    database = engine.url.database or ""

    def before(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, many: bool
    ) -> None:
        if not background and not trace.get_current_span().get_span_context().is_valid:
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            f"{operation} {database}".strip(),
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": system,
                "db.name": database,
                "db.operation": operation,
                "db.statement": statement[:_MAX_STATEMENT_CHARS],
            },
        )
        context._textlens_span = span

    def after(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, "_textlens_span", None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        span = (
            getattr(exception_context.execution_context, "_textlens_span", None)
            if exception_context.execution_context
            else None
        )
        if span is not None:
            span.set_status(
                Status(StatusCode.ERROR, type(exception_context.original_exception).__name__)
            )
            span.end()

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "handle_error", failed)
