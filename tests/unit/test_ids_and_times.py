"""Ids are RFC 9562 UUIDv7 strings; timestamps convert exactly as protobuf's own code does."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

from google.protobuf import timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from server.domain.model import new_id
from server.transport.codec import timestamp


def test_ids_are_unique_version_7_uuids_ordered_by_millisecond() -> None:
    first = [new_id() for _ in range(5_000)]
    time.sleep(0.002)
    later = new_id()
    assert len(set(first)) == len(first)
    for value in first[:500]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert max(first) < later


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.one_of(
            st.none(),
            st.just(UTC),
            st.builds(
                timezone,
                st.timedeltas(min_value=timedelta(hours=-12), max_value=timedelta(hours=12)),
            ),
        ),
    )
)
def test_timestamps_match_protobufs_conversion(value: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(value)
    assert timestamp(value) == expected
