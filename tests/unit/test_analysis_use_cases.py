"""Analysis use cases against in-memory fakes: validation, idempotency, failures, paging."""

from __future__ import annotations

import pytest
from helpers.fakes import FakeQualityAnalyzer, FakeUnitOfWork

from server.domain.errors import AlreadyExists, ErrorReason, InvalidArgument, NotFound
from server.domain.model import Analysis, AnalysisStatus, AnalysisType
from server.service.analyses import AnalysisUseCases
from server.service.analyst import ANALYZER_FAILED_MESSAGE, Analyst
from server.service.paging import Pager, PageTokens

QUALITY = int(AnalysisType.QUALITY)


@pytest.fixture
def store() -> dict[str, Analysis]:
    return {}


@pytest.fixture
def analyzer() -> FakeQualityAnalyzer:
    return FakeQualityAnalyzer()


@pytest.fixture
def use_cases(store: dict[str, Analysis], analyzer: FakeQualityAnalyzer) -> AnalysisUseCases:
    return AnalysisUseCases(
        lambda: FakeUnitOfWork(store),
        Analyst({AnalysisType.QUALITY: analyzer}),
        Pager(PageTokens(b"k")),
        max_text_chars=50,
    )


async def test_create_trims_analyses_and_stores_a_completed_analysis(
    use_cases: AnalysisUseCases, store: dict[str, Analysis]
) -> None:
    created = await use_cases.create("acme", "  three little words \n", QUALITY)
    assert created.text == "three little words"
    assert created.status is AnalysisStatus.COMPLETED
    assert created.result is not None and created.result.word_count == 3  # type: ignore[union-attr]
    assert created.create_time.tzinfo is not None
    assert store == {created.id: created}


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "x" * 51])
async def test_invalid_text_is_rejected_before_any_analyzer_runs(
    use_cases: AnalysisUseCases,
    analyzer: FakeQualityAnalyzer,
    store: dict[str, Analysis],
    text: str,
) -> None:
    with pytest.raises(InvalidArgument):
        await use_cases.create("acme", text, QUALITY)
    assert analyzer.calls == []
    assert store == {}


async def test_a_too_long_text_reports_the_limit(use_cases: AnalysisUseCases) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.create("acme", "x" * 51, QUALITY)
    assert caught.value.reason is ErrorReason.TEXT_TOO_LONG
    assert caught.value.metadata == {"max_chars": "50"}


async def test_an_analyzer_failure_is_stored_as_failed_without_internals(
    use_cases: AnalysisUseCases, store: dict[str, Analysis]
) -> None:
    created = await use_cases.create("acme", "this goes boom", QUALITY)
    assert created.status is AnalysisStatus.FAILED
    assert created.result is None
    assert created.error_message == ANALYZER_FAILED_MESSAGE
    assert store[created.id].status is AnalysisStatus.FAILED


async def test_a_retry_returns_the_first_analysis_without_analysing_again(
    use_cases: AnalysisUseCases, analyzer: FakeQualityAnalyzer, store: dict[str, Analysis]
) -> None:
    first = await use_cases.create("acme", "same words", QUALITY, "key-1")
    again = await use_cases.create("acme", " same words ", QUALITY, "key-1")
    assert again == first
    assert len(analyzer.calls) == 1
    assert len(store) == 1


async def test_a_request_id_reused_with_other_text_already_exists(
    use_cases: AnalysisUseCases,
) -> None:
    await use_cases.create("acme", "same words", QUALITY, "key-1")
    with pytest.raises(AlreadyExists):
        await use_cases.create("acme", "other words", QUALITY, "key-1")


async def test_request_ids_are_per_tenant(use_cases: AnalysisUseCases) -> None:
    mine = await use_cases.create("acme", "same words", QUALITY, "key-1")
    theirs = await use_cases.create("globex", "other words", QUALITY, "key-1")
    assert mine.id != theirs.id


async def test_another_tenants_analysis_is_not_found(use_cases: AnalysisUseCases) -> None:
    created = await use_cases.create("acme", "private words", QUALITY)
    with pytest.raises(NotFound):
        await use_cases.get("globex", created.id)
    with pytest.raises(NotFound):
        await use_cases.delete("globex", created.id)
    page = await use_cases.list("globex")
    assert (page.items, page.total_size) == ([], 0)


async def test_delete_twice_is_not_found_the_second_time(use_cases: AnalysisUseCases) -> None:
    created = await use_cases.create("acme", "short lived", QUALITY)
    await use_cases.delete("acme", created.id)
    with pytest.raises(NotFound):
        await use_cases.delete("acme", created.id)


async def test_pages_chain_through_tokens_without_repeats(use_cases: AnalysisUseCases) -> None:
    ids = {(await use_cases.create("acme", f"text {i}", QUALITY)).id for i in range(7)}
    seen: list[str] = []
    token = ""
    while True:
        page = await use_cases.list("acme", page_size_value=3, page_token=token)
        assert page.total_size == 7
        seen += [a.id for a in page.items]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 7


async def test_a_token_from_another_tenant_is_invalid(use_cases: AnalysisUseCases) -> None:
    for i in range(3):
        await use_cases.create("acme", f"text {i}", QUALITY)
    token = (await use_cases.list("acme", page_size_value=1)).next_page_token
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.list("globex", page_size_value=1, page_token=token)
    assert caught.value.reason is ErrorReason.PAGE_TOKEN_INVALID


async def test_a_batchs_results_list_in_input_order_through_page_tokens(
    use_cases: AnalysisUseCases, store: dict[str, Analysis]
) -> None:
    for i in range(7):
        analysis = await use_cases.create("acme", f"text {i}", QUALITY)
        analysis.batch_id, analysis.batch_item = "batch-1", (i * 3) % 7  # stored out of order
    seen: list[int | None] = []
    token = ""
    while True:
        page = await use_cases.list("acme", batch_id="batch-1", page_size_value=3, page_token=token)
        seen += [a.batch_item for a in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(range(7))
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.list("acme", order_by="batch_item")
    assert caught.value.reason is ErrorReason.ORDER_BY_INVALID
