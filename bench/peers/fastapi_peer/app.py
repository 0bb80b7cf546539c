"""The seed's stack, as the peer to compare with: FastAPI + uvicorn + SQLAlchemy async ORM.

One session per request, the same SentimentAnalyzer as TextLens, each analysis stored as a
row in PostgreSQL. Run by bench/run.py as

    uvicorn app:create_app --factory --workers N   (PEER_DATABASE_URL set)

and ``python app.py`` creates its table first.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import DateTime, Float, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.domain.analyzers import SentimentAnalyzer


class Base(DeclarativeBase):
    pass


class Analysis(Base):
    __tablename__ = "peer_analyses"

    id: Mapped[int] = mapped_column(primary_key=True)
    text_content: Mapped[str] = mapped_column(Text)
    analysis_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    sentiment_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    processing_time_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AnalysisType(StrEnum):
    SENTIMENT = "sentiment"


class AnalysisCreate(BaseModel):
    text_content: str = Field(..., min_length=1, max_length=10_000)
    analysis_type: AnalysisType

    @field_validator("text_content")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Text content cannot be empty")
        return value.strip()


class AnalysisResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    text_content: str
    analysis_type: str
    status: str
    sentiment_score: float | None
    result: dict[str, Any] | None
    processing_time_ms: float
    created_at: datetime
    updated_at: datetime
    processed_at: datetime | None


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, as the seed does it."""
    async with request.app.state.sessions() as db:
        yield db


Session = Annotated[AsyncSession, Depends(get_db)]


def create_app() -> FastAPI:
    database_url = os.environ["PEER_DATABASE_URL"]
    analyzer = SentimentAnalyzer()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_engine(database_url, pool_size=20, max_overflow=20)
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        yield
        await engine.dispose()

    app = FastAPI(title="NLP Analysis API (peer)", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.post(
        "/api/v1/analyses", response_model=AnalysisResponse, status_code=status.HTTP_201_CREATED
    )
    async def create_analysis(data: AnalysisCreate, db: Session) -> Analysis:
        started = time.perf_counter()
        scored = analyzer.analyze(data.text_content)
        now = datetime.now(UTC)
        row = Analysis(
            text_content=data.text_content,
            analysis_type=data.analysis_type.value,
            status="completed",
            sentiment_score=scored.score,
            result=scored.to_dict(),
            processing_time_ms=(time.perf_counter() - started) * 1000,
            created_at=now,
            updated_at=now,
            processed_at=now,
        )
        db.add(row)
        await db.commit()
        return row

    return app


async def create_schema() -> None:
    engine = create_async_engine(os.environ["PEER_DATABASE_URL"])
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(create_schema())
