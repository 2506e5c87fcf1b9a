"""Reporting service tables (its own database): the declarative ``Base`` the ledger's
(``ledger/models.py``) and the statistics' (``stats/models.py``) tables register on."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
