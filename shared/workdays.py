"""Chinese working days (工作日): statutory holidays off, make-up working days (调休) on.

``chinesecalendar`` knows the State Council's published arrangements (1.11: 2004–2026) and raises
for later years, yet a deadline set in December 2026 can end in 2027. For a year it does not know we
fall back to weekends plus a configured holiday list and flag the result provisional, so a request
never fails because next year's calendar is not published yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import chinese_calendar

CHINA = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Deadline:
    due: date
    provisional: bool


class WorkdayCalendar:
    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is it a working day, is that answer provisional)."""
        try:
            return bool(chinese_calendar.is_workday(day)), False
        except NotImplementedError:
            if day in self.extra_workdays:
                return True, True
            if day in self.extra_holidays:
                return False, True
            return day.weekday() < 5, True

    def add_working_days(self, start: date, days: int) -> Deadline:
        """The ``days``-th working day after ``start`` (``start`` itself does not count)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        current, provisional, counted = start, False, 0
        while counted < days:
            current += timedelta(days=1)
            workday, guessed = self.is_workday(current)
            provisional = provisional or guessed
            if workday:
                counted += 1
        return Deadline(current, provisional)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative if end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            if self.is_workday(current)[0]:
                count += 1
        return count


def china_today(now: datetime | None = None) -> date:
    return (now or datetime.now(CHINA)).astimezone(CHINA).date()
