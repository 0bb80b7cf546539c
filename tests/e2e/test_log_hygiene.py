"""No log line holds a text: a real server on PostgreSQL, with an analyzer that fails
quoting its text and a database that refuses rows quoting theirs, logging at DEBUG in
JSON and in console format; every line it writes is searched for the texts."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import asyncpg
import grpc
import grpc.aio
import pytest
from helpers.auth import authed_channel, make_token
from helpers.databases import ADMIN_URL, temporary_database
from helpers.process import ServerProcess

from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

A = analysis_service_pb2
SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT
TESTS = Path(__file__).resolve().parents[1]

# Each text has a word found nowhere else, searched for in every line.
TEXTS = {
    "fine": "The Marzipan Accord was signed at dawn. Everyone cheered loudly.",
    "analyzer-fails": "boom: the Kumquat ledger shows losses. Nobody must know.",
    "database-refuses": "poison: Tangerine payroll for March. Salaries attached.",
    "streamed": "poison in a stream: Persimmon merger terms. Strictly private.",
    "batched": "poison in a batch: Quince layoffs next week. Do not forward.",
    "neighbour": "An innocent Rhubarb review. Five stars.",
}
MARKERS = ("Marzipan", "Kumquat", "Tangerine", "Persimmon", "Quince", "Rhubarb")

REFUSE_POISON = [
    """CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
       BEGIN
         IF NEW.text LIKE 'poison%' THEN
           RAISE EXCEPTION 'refused row: %', NEW.text;
         END IF;
         RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER refuse_poison BEFORE INSERT ON analyses
       FOR EACH ROW EXECUTE FUNCTION refuse_poison()""",
]


async def _refuse_poison(url: str) -> None:
    database = url.rsplit("/", 1)[1]
    base = ADMIN_URL.rsplit("/", 1)[0]
    connection = await asyncpg.connect(f"{base}/{database}")
    try:
        for statement in REFUSE_POISON:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _traffic(target: str) -> dict[str, grpc.StatusCode]:
    outcomes: dict[str, grpc.StatusCode] = {}
    async with (
        authed_channel(target, make_token("owner")) as channel,
        authed_channel(target, make_token("neighbour")) as neighbour,
    ):
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)

        async def create(name: str, on: grpc.aio.Channel = channel) -> None:
            request = A.CreateAnalysisRequest(text=TEXTS[name], analysis_type=SENTIMENT)
            try:
                await analysis_service_pb2_grpc.AnalysisServiceStub(on).CreateAnalysis(request)
                outcomes[name] = grpc.StatusCode.OK
            except grpc.aio.AioRpcError as error:
                outcomes[name] = error.code()

        # The refused row shares its group insert with the neighbour's row.
        await asyncio.gather(
            create("fine"),
            create("analyzer-fails"),
            create("database-refuses"),
            *(create("neighbour", neighbour) for _ in range(5)),
        )
        items = [A.AnalyzeStreamItem(ref="1", text=TEXTS["streamed"], analysis_type=SENTIMENT)]
        async for response in stub.AnalyzeStream(iter([A.AnalyzeStreamRequest(items=items)])):
            outcomes["streamed"] = grpc.StatusCode(
                next(c for c in grpc.StatusCode if c.value[0] == response.results[0].error.code)
            )
        batches = batch_service_pb2_grpc.BatchServiceStub(channel)
        await batches.CreateBatch(
            batch_service_pb2.CreateBatchRequest(texts=[TEXTS["batched"]], analysis_type=SENTIMENT)
        )
        await asyncio.sleep(1.5)  # the worker claims the item, fails to store it, logs it
    return outcomes


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_no_log_line_at_any_level_holds_a_text(tmp_path: Path, log_format: str) -> None:
    async with temporary_database() as url:
        env = {
            "TEXTLENS_DATABASE_URL": url,
            "TEXTLENS_LOG_FORMAT": log_format,
            "TEXTLENS_LOG_LEVEL": "DEBUG",
            "TEXTLENS_ANALYZERS": json.dumps(
                {"sentiment": "helpers.fakes:LeakyFailingSentimentAnalyzer"}
            ),
            "TEXTLENS_BATCH_POLL_SECONDS": "0.2",
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        }
        with ServerProcess(env, cwd=tmp_path, args=("serve", "--migrate")) as server:
            await _refuse_poison(url)
            outcomes = await _traffic(server.target)
        lines = server.stdout_lines + server.stderr_lines

    assert outcomes.get("fine") == grpc.StatusCode.OK
    assert outcomes.get("neighbour") == grpc.StatusCode.OK, "another tenant's row never fails"
    assert outcomes.get("database-refuses") == grpc.StatusCode.INTERNAL
    assert outcomes.get("streamed") == grpc.StatusCode.INTERNAL
    output = "\n".join(lines)
    # The failures were logged, with their kind and an id, just not their contents.
    assert "analyzer failed" in output and "ValueError" in output
    assert "unhandled error" in output and "RaiseError" in output
    assert "error_id" in output
    for marker in MARKERS:
        assert marker not in output, f"{marker!r} reached the logs"
    for text in TEXTS.values():
        for sentence in text.split(". "):
            assert sentence.strip(".") not in output
    assert max(len(line) for line in lines) < 8_000, "tracebacks are bounded"
