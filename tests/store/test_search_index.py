"""The search index's time buckets: the words it stores and the calendar a search walks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from auditledger.store import search_index


def test_bucket_words_name_the_utc_month_day_and_hour() -> None:
    instant = datetime(2026, 11, 25, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # 22:30 UTC
    assert search_index.bucket("m", instant) == "m202611"
    assert search_index.bucket("d", instant) == "d20261124"
    assert search_index.bucket("h", instant) == "h2026112422"


def test_buckets_walk_newest_first_across_months_and_years() -> None:
    newest = datetime(2027, 1, 1, 1, 30, tzinfo=UTC)
    oldest = datetime(2026, 12, 31, 22, 10, tzinfo=UTC)
    hours = list(search_index.buckets("h", newest, oldest))
    assert hours == [newest.replace(minute=0) - timedelta(hours=n) for n in range(4)]
    months = list(search_index.buckets("m", newest, datetime(2026, 11, 3, tzinfo=UTC)))
    assert months == [
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
    ]
    for level, start in (("m", months[1]), ("d", oldest), ("h", hours[-1])):
        begin = search_index.bucket_start(level, start)
        end = search_index.bucket_end(level, begin)
        # A bucket ends where the next begins, and holds only instants with its word.
        assert search_index.bucket_start(level, end) == end
        assert search_index.bucket(level, end - timedelta(microseconds=1)) == (
            search_index.bucket(level, begin)
        )
