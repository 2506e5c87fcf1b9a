"""Random-inspection plans and their observers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.inspection.models import Base

# --- plans and draws -------------------------------------------------------------------------------


class Plan(Base):
    """A random-inspection plan. ``status``: draft → committed (lists frozen) → drawn."""

    __tablename__ = "plan"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'committed', 'drawn')", name="status_known"),
        CheckConstraint("team_size >= 2", name="team_size_min"),
        CheckConstraint("window_start <= window_end", name="window_ordered"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text)
    districts: Mapped[list[str]] = mapped_column(ARRAY(Text))
    operating_models: Mapped[list[str]] = mapped_column(ARRAY(Text))  # empty = every model
    ratios: Mapped[dict[str, str]] = mapped_column(JSONB)  # grade -> decimal string
    team_size: Mapped[int] = mapped_column(Integer)
    # the draw algorithm, fixed at creation like the parameters (services/inspection/draw.py ALGORITHMS)
    algorithm: Mapped[str] = mapped_column(Text)
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    checklist: Mapped[list[str]] = mapped_column(JSONB)
    publication_working_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # set at commit; the server seed stays secret (never returned) until the draw
    server_seed: Mapped[str | None] = mapped_column(Text)
    commitment: Mapped[str | None] = mapped_column(Text)
    institutions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    inspectors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    institutions_hash: Mapped[str | None] = mapped_column(Text)
    inspectors_hash: Mapped[str | None] = mapped_column(Text)
    committed_by: Mapped[str | None] = mapped_column(Text)
    committed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # set at the draw
    witness_value: Mapped[str | None] = mapped_column(Text)
    draw_seed: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    drawn_by: Mapped[str | None] = mapped_column(Text)
    drawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # v3 (docs/draw.md §1.1): fixed at commit, the earliest reveal time and the end of the grace
    # period after which a withheld reveal no longer blocks the draw; the witness digest at the draw
    reveal_not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withheld_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    witness_digest: Mapped[str | None] = mapped_column(Text)
    # v3 with a public randomness beacon (docs/draw.md §1.2): the chain (hash, scheme, public key,
    # genesis, period) and round fixed at the commit; the round's signature and randomness added at the draw
    beacon: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class PlanObserver(Base):
    """An independent observer (监督员) of a plan's draw, named by organisation (never a person):
    its commitment sha256(value || salt) is registered before the commit, its value and salt revealed
    after the plan's reveal time; ``withheld`` set by a draw that went ahead without it."""

    __tablename__ = "plan_observer"
    __table_args__ = (UniqueConstraint("plan_id", "commitment", name="uq_plan_observer_commitment"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id"), index=True)
    organisation: Mapped[str] = mapped_column(Text)
    commitment: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[str | None] = mapped_column(Text)
    salt: Mapped[str | None] = mapped_column(Text)
    revealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withheld: Mapped[bool] = mapped_column(Boolean, default=False)
