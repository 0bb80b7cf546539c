"""Analysis use cases against in-memory fakes: validation, idempotency, failures, paging."""

from __future__ import annotations

import dataclasses

import pytest
from helpers.fakes import (
    FakeAnalysisWriter,
    FakeClock,
    FakeMetrics,
    FakeQualityAnalyzer,
    FakeResultCache,
    FakeStorage,
    units_of_work,
)

from server.domain.errors import AlreadyExists, ErrorReason, InvalidArgument, NotFound
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, new_id
from server.service.analyses import AnalysisUseCases
from server.service.analyst import ANALYZER_FAILED_MESSAGE, Analyst
from server.service.paging import INPUT_ORDER, ListQuery, Order, Pager, PageTokens
from server.service.ports import AnalysisFilter, DuplicateRequestId

QUALITY = AnalysisType.QUALITY
ALL = ListQuery(AnalysisFilter())


@pytest.fixture
def analyzer() -> FakeQualityAnalyzer:
    return FakeQualityAnalyzer()


@pytest.fixture
def cache() -> FakeResultCache:
    return FakeResultCache()


@pytest.fixture
def use_cases(
    store: FakeStorage,
    analyzer: FakeQualityAnalyzer,
    clock: FakeClock,
    metrics: FakeMetrics,
    cache: FakeResultCache,
) -> AnalysisUseCases:
    return AnalysisUseCases(
        units_of_work(store),
        Analyst(
            {AnalysisType.QUALITY: analyzer},
            cache=cache,
            cache_secret=b"s",
            metrics=metrics,
            clock=clock,
        ),
        Pager(PageTokens(b"k")),
        max_text_chars=50,
        metrics=metrics,
        writer=FakeAnalysisWriter(store),
    )


async def test_create_trims_analyses_and_stores_a_completed_analysis(
    use_cases: AnalysisUseCases, store: FakeStorage, clock: FakeClock, metrics: FakeMetrics
) -> None:
    created = await use_cases.create("acme", "  three little words \n", QUALITY)
    assert created.text == "three little words"
    assert created.status is AnalysisStatus.COMPLETED
    assert created.result is not None and created.result.word_count == 3  # type: ignore[union-attr]
    assert created.create_time == created.update_time == clock.now
    assert store.analyses == {created.id: created}
    assert metrics.stored == [created]


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "x" * 51])
async def test_invalid_text_is_rejected_before_any_analyzer_runs(
    use_cases: AnalysisUseCases,
    analyzer: FakeQualityAnalyzer,
    store: FakeStorage,
    text: str,
) -> None:
    with pytest.raises(InvalidArgument):
        await use_cases.create("acme", text, QUALITY)
    assert analyzer.calls == []
    assert store.analyses == {}


async def test_a_too_long_text_reports_the_limit(use_cases: AnalysisUseCases) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.create("acme", "x" * 51, QUALITY)
    assert caught.value.reason is ErrorReason.TEXT_TOO_LONG
    assert caught.value.metadata == {"max_chars": "50"}


async def test_an_analyzer_failure_is_stored_as_failed_without_internals(
    use_cases: AnalysisUseCases, store: FakeStorage
) -> None:
    created = await use_cases.create("acme", "this goes boom", QUALITY)
    assert created.status is AnalysisStatus.FAILED
    assert created.result is None
    assert created.error_message == ANALYZER_FAILED_MESSAGE
    assert store.analyses[created.id].status is AnalysisStatus.FAILED


async def test_a_retry_returns_the_first_analysis_without_analysing_again(
    use_cases: AnalysisUseCases, analyzer: FakeQualityAnalyzer, store: FakeStorage
) -> None:
    first = await use_cases.create("acme", "same words", QUALITY, "key-1")
    again = await use_cases.create("acme", " same words ", QUALITY, "key-1")
    assert again == first
    assert len(analyzer.calls) == 1
    assert len(store.analyses) == 1


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
    page = await use_cases.list("globex", ALL)
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
        page = await use_cases.list("acme", ListQuery(AnalysisFilter(), 3, page_token=token))
        assert page.total_size == 7
        seen += [a.id for a in page.items]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 7


@pytest.mark.parametrize(
    ("tenant", "query"),
    [
        ("globex", ListQuery(AnalysisFilter(), 1)),
        ("acme", ListQuery(AnalysisFilter(status=AnalysisStatus.COMPLETED), 1)),
        ("acme", ListQuery(AnalysisFilter(batch_id="batch-1"), 1)),
        ("acme", ListQuery(AnalysisFilter(), 1, Order("create_time", descending=False))),
    ],
)
async def test_a_token_is_invalid_for_another_tenant_other_filters_or_another_order(
    use_cases: AnalysisUseCases, tenant: str, query: ListQuery[AnalysisFilter]
) -> None:
    for i in range(3):
        await use_cases.create("acme", f"text {i}", QUALITY)
    token = (await use_cases.list("acme", ListQuery(AnalysisFilter(), 1))).next_page_token
    assert (await use_cases.list("acme", ListQuery(AnalysisFilter(), 2, page_token=token))).items
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.list(tenant, dataclasses.replace(query, page_token=token))
    assert caught.value.reason is ErrorReason.PAGE_TOKEN_INVALID


async def test_a_batchs_results_list_in_input_order_through_page_tokens(
    use_cases: AnalysisUseCases, store: FakeStorage
) -> None:
    for i in range(7):
        analysis = await use_cases.create("acme", f"text {i}", QUALITY)
        analysis.batch_id, analysis.batch_item = "batch-1", (i * 3) % 7  # stored out of order
    seen: list[int | None] = []
    token = ""
    while True:
        query = ListQuery(AnalysisFilter(batch_id="batch-1"), 3, INPUT_ORDER, token)
        page = await use_cases.list("acme", query)
        seen += [a.batch_item for a in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(range(7))


async def test_the_same_text_again_reuses_the_cached_result_and_a_delete_forgets_it(
    use_cases: AnalysisUseCases,
    analyzer: FakeQualityAnalyzer,
    metrics: FakeMetrics,
    cache: FakeResultCache,
) -> None:
    first = await use_cases.create("acme", "cached words", QUALITY)
    second = await use_cases.create("acme", "cached words", QUALITY)
    assert second.id != first.id and second.result == first.result
    assert len(analyzer.calls) == 1
    assert (metrics.hits, metrics.misses) == (1, 1)
    await use_cases.delete("acme", first.id)
    assert cache.entries == {}, "nothing of a deleted analysis outlives it"
    await use_cases.create("acme", "cached words", QUALITY)
    assert len(analyzer.calls) == 2


async def test_a_replay_is_counted_once_in_the_metrics(
    use_cases: AnalysisUseCases, metrics: FakeMetrics
) -> None:
    first = await use_cases.create("acme", "same words", QUALITY, "key-1")
    await use_cases.create("acme", "same words", QUALITY, "key-1")
    assert metrics.stored == [first]


class LosingWriter(FakeAnalysisWriter):
    """A writer whose insert loses to a concurrent request with the same request id: the
    winner ("same" or "other" payload) is stored just before, or was deleted since ("gone")."""

    def __init__(self, storage: FakeStorage, winner: str) -> None:
        super().__init__(storage)
        self.winner = winner

    async def store(self, analysis: Analysis) -> None:
        if self.winner != "gone":
            hash_ = analysis.payload_hash if self.winner == "same" else "another payload"
            won = dataclasses.replace(analysis, id=new_id(), payload_hash=hash_)
            self.storage.analyses[won.id] = won
        raise DuplicateRequestId


def racing(store: FakeStorage, winner: str) -> AnalysisUseCases:
    return AnalysisUseCases(
        units_of_work(store),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}),
        Pager(PageTokens(b"k")),
        max_text_chars=50,
        writer=LosingWriter(store, winner),
    )


async def test_a_create_losing_a_race_to_its_own_retry_answers_as_the_winner(
    store: FakeStorage,
) -> None:
    answer = await racing(store, "same").create("acme", "raced words", QUALITY, "key-1")
    assert list(store.analyses) == [answer.id]


async def test_a_create_losing_a_race_to_another_payload_already_exists(
    store: FakeStorage,
) -> None:
    with pytest.raises(AlreadyExists) as caught:
        await racing(store, "other").create("acme", "raced words", QUALITY, "key-1")
    assert caught.value.reason is ErrorReason.REQUEST_ID_REUSED


async def test_a_create_whose_winner_was_deleted_meanwhile_fails_and_stores_nothing(
    store: FakeStorage,
) -> None:
    with pytest.raises(DuplicateRequestId):
        await racing(store, "gone").create("acme", "raced words", QUALITY, "key-1")
    assert store.analyses == {}


async def test_lists_filter_by_type_and_status(use_cases: AnalysisUseCases) -> None:
    good = await use_cases.create("acme", "fine words", QUALITY)
    bad = await use_cases.create("acme", "this goes boom", QUALITY)
    failed = await use_cases.list("acme", ListQuery(AnalysisFilter(status=AnalysisStatus.FAILED)))
    assert ([a.id for a in failed.items], failed.total_size) == ([bad.id], 1)
    quality = await use_cases.list("acme", ListQuery(AnalysisFilter(analysis_type=QUALITY)))
    assert {a.id for a in quality.items} == {good.id, bad.id}
    sentiment = ListQuery(AnalysisFilter(analysis_type=AnalysisType.SENTIMENT))
    assert (await use_cases.list("acme", sentiment)).items == []


async def test_lists_are_newest_first_by_the_injected_clock_unless_asked(
    use_cases: AnalysisUseCases, clock: FakeClock
) -> None:
    ids = []
    for i in range(3):
        ids.append((await use_cases.create("acme", f"text {i}", QUALITY)).id)
        clock.advance(1)
    assert [a.id for a in (await use_cases.list("acme", ALL)).items] == ids[::-1]
    oldest = ListQuery(AnalysisFilter(), order=Order("create_time", descending=False))
    oldest_first = await use_cases.list("acme", oldest)
    assert [a.id for a in oldest_first.items] == ids


async def test_get_returns_the_stored_analysis(use_cases: AnalysisUseCases) -> None:
    created = await use_cases.create("acme", "keep these words", QUALITY)
    assert await use_cases.get("acme", created.id) == created


async def test_an_analysis_of_a_type_no_longer_served_can_still_be_deleted(
    store: FakeStorage, clock: FakeClock
) -> None:
    kept = Analysis(
        id=new_id(),
        tenant="acme",
        text="old words",
        analysis_type=AnalysisType.EMOTION,
        status=AnalysisStatus.COMPLETED,
        create_time=clock.now,
        update_time=clock.now,
    )
    store.analyses[kept.id] = kept
    use_cases = AnalysisUseCases(
        units_of_work(store),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}, cache=FakeResultCache()),
        Pager(PageTokens(b"k")),
        max_text_chars=50,
    )
    await use_cases.delete("acme", kept.id)
    assert store.analyses == {}
