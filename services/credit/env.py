"""What credit logic needs besides the session (``CreditEnv``: every policy version, the default,
the clock), and the Beijing calendar the rules count days in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.credit.policy.documents import PolicyRegistry

Clock = Callable[[], datetime]


BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class CreditEnv:
    """What credit logic needs besides the session: every policy version, the default, the clock."""

    registry: PolicyRegistry
    default_version: str
    now: Clock


def beijing_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING)
