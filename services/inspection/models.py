"""Inspection service tables (its own database). The domain tables arrive with the inspection
issue; the outbox and inbox it needs from day one come from ``shared.outbox``."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
