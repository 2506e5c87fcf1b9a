"""Deadlines on the Chinese working-day calendar, against the State Council's 2026 arrangement."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.workdays import WorkdayCalendar, china_today

CAL = WorkdayCalendar()


def test_plain_week() -> None:
    # Mon 2026-11-23 + 5 working days = Mon 2026-11-30
    assert CAL.add_working_days(date(2026, 11, 23), 5).due == date(2026, 11, 30)
    assert not CAL.add_working_days(date(2026, 11, 23), 5).provisional


def test_national_day_holiday_is_skipped() -> None:
    # Submitted Wed 2026-09-30: Oct 1-7 are the National Day holiday; 5 working days later is
    # Fri Oct 9 … but Sat Oct 10 is a make-up working day, so counting goes Oct 8, 9, 10, 12, 13.
    deadline = CAL.add_working_days(date(2026, 9, 30), 5)
    assert deadline.due == date(2026, 10, 13)
    assert not deadline.provisional


def test_make_up_working_day_counts() -> None:
    # Fri 2026-09-18: Sun Sep 20 is a make-up working day (调休); Mid-Autumn Fri Sep 25 is off.
    # Counting: Sep 20 (Sun, make-up), 21, 22, 23, 24 -> due Thu Sep 24.
    assert CAL.add_working_days(date(2026, 9, 18), 5).due == date(2026, 9, 24)


def test_unknown_year_falls_back_to_weekends_and_config_and_is_provisional() -> None:
    calendar = WorkdayCalendar(extra_holidays=[date(2027, 1, 1)])
    # Tue 2026-12-29 + 5: Dec 30, 31 are known; 2027: Jan 1 (configured holiday) off, Jan 2-3 weekend,
    # Jan 4, 5, 6 -> due Wed 2027-01-06, provisional.
    deadline = calendar.add_working_days(date(2026, 12, 29), 5)
    assert deadline.due == date(2027, 1, 6)
    assert deadline.provisional


def test_working_days_between() -> None:
    assert CAL.working_days_between(date(2026, 9, 30), date(2026, 10, 13)) == 5
    assert CAL.working_days_between(date(2026, 10, 13), date(2026, 9, 30)) == -5


def test_china_today_uses_beijing_time() -> None:
    assert china_today(datetime(2026, 11, 29, 17, 0, tzinfo=UTC)) == date(2026, 11, 30)
