"""Training hours the rules require of a role: the one place the platform states them.

WS/T 821—2023《托育机构质量评估标准》(issued 2023-10-31, in force 2024-04-01) 5.2.1: the principal
(负责人) has at least 60 hours of training. It is a recommended (推荐性, "/T") health standard, not a
regulation, so falling short is a matter for the filing officer to follow up (督促), not a refusal;
our source for the figure is secondary (reference-domain §1.5), and it names no period, so the hours
counted are all the training the roster records for the person's current employment.

The work queue ``staff_training_below_requirement`` (services/filing/work/queues.py) lists the active
staff of filed institutions below their role's requirement.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingRequirement:
    role: str
    min_hours: float
    basis_zh: str


TRAINING_REQUIREMENTS: tuple[TrainingRequirement, ...] = (
    TrainingRequirement(
        role="principal",
        min_hours=60,
        basis_zh="《托育机构质量评估标准》（WS/T 821—2023）5.2.1",
    ),
)
