"""Deadlines in Indonesian working days: weekends, national holidays and cuti bersama."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.deadlines import (
    add_working_days,
    due_date,
    is_working_day,
    local_today,
    working_days_between,
)


def test_a_weekend_is_skipped():
    friday = date(2026, 6, 5)
    assert add_working_days(friday, 1) == date(2026, 6, 8)  # Monday
    assert add_working_days(date(2026, 6, 4), 3) == date(2026, 6, 9)  # Thu + 3 = Tue
    assert not is_working_day(date(2026, 6, 6)) and not is_working_day(date(2026, 6, 7))
    # Starting on a Saturday, the first working day is Monday.
    assert add_working_days(date(2026, 6, 6), 1) == date(2026, 6, 8)


def test_a_national_holiday_is_skipped():
    # Independence Day, 17 August 2026, is a Monday: Friday + 1 working day is Tuesday.
    assert not is_working_day(date(2026, 8, 17))
    assert add_working_days(date(2026, 8, 14), 1) == date(2026, 8, 18)
    assert add_working_days(date(2026, 8, 14), 3) == date(2026, 8, 20)
    # New Year 2027 is a Friday: Thursday 31 December + 1 working day is Monday 4 January.
    assert add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_cuti_bersama_around_eid_al_fitr_is_skipped():
    # 18 joint holiday, 19 Nyepi, 20 joint, 21-22 Eid (a weekend), 23-24 joint holidays.
    for day in range(18, 25):
        assert not is_working_day(date(2026, 3, day)), day
    assert is_working_day(date(2026, 3, 17)) and is_working_day(date(2026, 3, 25))
    assert add_working_days(date(2026, 3, 17), 1) == date(2026, 3, 25)
    # A report received on 16 March has until 26 March to be verified (3 working days).
    assert add_working_days(date(2026, 3, 16), 3) == date(2026, 3, 26)


def test_working_days_between():
    assert working_days_between(date(2026, 3, 17), date(2026, 3, 25)) == 1
    assert working_days_between(date(2026, 8, 14), date(2026, 8, 21)) == 4  # 18, 19, 20, 21
    assert working_days_between(date(2026, 6, 5), date(2026, 6, 7)) == 0  # only the weekend
    assert working_days_between(date(2026, 6, 8), date(2026, 6, 8)) == 0
    assert working_days_between(date(2026, 6, 10), date(2026, 6, 1)) == 0
    # It is the inverse of add_working_days, through every kind of day off.
    for start in (date(2026, 3, 13), date(2026, 8, 13), date(2026, 12, 22)):
        for days in range(1, 25):
            assert working_days_between(start, add_working_days(start, days)) == days


def test_due_date_uses_the_default_deadlines(app):
    with app.app_context():
        # received: 3 working days, needs_info: 10, verified: 5, in_progress: 14.
        assert due_date("received", date(2026, 8, 14)) == date(2026, 8, 20)
        assert due_date("needs_info", date(2026, 3, 16)) == date(2026, 4, 7)  # Good Friday too
        assert due_date("verified", date(2026, 6, 5)) == date(2026, 6, 12)
        assert due_date("in_progress", date(2026, 8, 3)) == date(2026, 8, 24)
        for status in ("referred", "resolved", "rejected", "unknown"):
            assert due_date(status, date(2026, 8, 14)) is None


@pytest.mark.app_config(
    {"DEADLINE_WORKING_DAYS": {"received": 1, "needs_info": 2, "verified": 4, "in_progress": 6}}
)
def test_due_date_follows_the_configured_working_days(app):
    with app.app_context():
        assert due_date("received", date(2026, 8, 14)) == date(2026, 8, 18)
        assert due_date("needs_info", date(2026, 3, 17)) == date(2026, 3, 26)
        assert due_date("verified", date(2026, 8, 14)) == date(2026, 8, 21)
        assert due_date("in_progress", date(2026, 8, 14)) == date(2026, 8, 26)  # 25: Mawlid
        assert due_date("resolved", date(2026, 8, 14)) is None


def test_today_is_counted_in_western_indonesia_time():
    before = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    today = local_today()
    after = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    assert today in (before, after)
    # WIB is UTC+7: from 17:00 UTC on, Jakarta is already on the next day.
    utc_now = datetime.now(UTC)
    assert today in (utc_now.date(), (utc_now + timedelta(hours=7)).date())
