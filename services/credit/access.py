"""Who may call the credit API (the role dependencies every domain's routes use) and what a request
needs from the app (the ``CreditEnv``, the separation-of-duties switches)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from services.credit.env import CreditEnv
from shared import duties
from shared.auth import Principal, require_roles

CreditReader = Annotated[Principal, Depends(require_roles("credit_officer", "supervisor", "ops"))]


CreditOfficer = Annotated[Principal, Depends(require_roles("credit_officer"))]


ListReader = Annotated[Principal, Depends(require_roles("credit_officer", "agency:*"))]


PersonRef = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="person_ref (64-hex keyed hash)")]


Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the document")]


def duty(request: Request, rule_id: str) -> bool:
    return duties.enabled(request.app.state.settings, rule_id)


def credit_env(request: Request) -> CreditEnv:
    env: CreditEnv = request.app.state.credit_env
    return env
