from __future__ import annotations

import hashlib

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.reporting.notes import NoteError, Signer, Verifier, valid_name
from shared.settings import ServiceSettings

# Development only: the dev ledger key is derived from this, so every dev/test run signs with the
# same (public, worthless) key. Production refuses it, as it refuses the other dev secrets.
DEV_LEDGER_SIGNING_SECRET = "dev-only-ledger-signing-secret"


def dev_signer(origin: str) -> Signer:
    seed = hashlib.sha256(f"{DEV_LEDGER_SIGNING_SECRET}\n{origin}".encode()).digest()
    return Signer.from_seed(origin, seed)


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore", env_ignore_empty=True)

    service_name: str = "reporting"
    port: int = 8004

    # Checkpoint origin line, and the name of the signing key (C2SP: the key name SHOULD equal it).
    ledger_origin: str = "gz.childcare.ledger"
    # A Go note signer key: PRIVATE+KEY+<origin>+<hex key id>+<base64(0x01 || 32-byte seed)>.
    # Unset: a development key derived from DEV_LEDGER_SIGNING_SECRET (refused in production).
    ledger_signing_key: str | None = None
    # Verifier keys of earlier signing keys (after a rotation), so older checkpoints still verify.
    ledger_previous_verifier_keys: list[str] = Field(default_factory=list)
    ledger_checkpoint_interval_seconds: float = Field(default=10.0, gt=0)
    # Statistics (docs/statistics.md): the first year that may be asked about, and the annual-report
    # due day in the year after the report year. The due day must equal the filing service's
    # FILING_ANNUAL_REPORT_DUE_MONTH/DAY: it decides who still owed a report when they deregistered.
    stats_first_year: int = Field(default=2020, ge=2000)
    annual_report_due_month: int = Field(default=3, ge=1, le=12)
    annual_report_due_day: int = Field(default=31, ge=1, le=31)

    @model_validator(mode="after")
    def _ledger_key(self) -> ReportingSettings:
        if not valid_name(self.ledger_origin):
            raise ValueError("ledger_origin must be printable ASCII without spaces or '+'")
        if self.ledger_signing_key is None:
            return self  # the development key; production refuses it (production_secret_problems)
        try:
            signer = Signer.parse(self.ledger_signing_key)
        except NoteError as exc:
            raise ValueError(f"{self.setting_name('ledger_signing_key')}: {exc}") from exc
        if signer.name != self.ledger_origin:
            raise ValueError(f"{self.setting_name('ledger_signing_key')}: the key name must equal ledger_origin")
        return self

    def production_secret_problems(self) -> list[str]:
        """The common secrets, and the ledger's keys: the signing key must be set and not the
        development key, and no previous verifier key may be the development one (its seed is
        public, so a checkpoint it verifies could have been signed by anyone)."""
        problems = super().production_secret_problems()
        name = self.setting_name("ledger_signing_key")
        if self.ledger_signing_key is None:
            problems.append(f"{name} must be set: production refuses the development ledger signing key")
        else:
            try:
                signer = Signer.parse(self.ledger_signing_key)
            except NoteError as exc:
                problems.append(f"{name}: {exc}")
            else:
                if signer.seed == dev_signer(signer.name).seed:
                    problems.append(f"{name} is the development ledger signing key")
        for index, vkey in enumerate(self.ledger_previous_verifier_keys):
            name = self.setting_name("ledger_previous_verifier_keys", str(index))
            try:
                verifier = Verifier.parse(vkey)
            except NoteError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if verifier.public_key == dev_signer(verifier.name).verifier.public_key:
                problems.append(f"{name} is the development ledger verifier key")
        return problems

    def ledger_signer(self) -> Signer:
        if self.ledger_signing_key is None:
            return dev_signer(self.ledger_origin)
        return Signer.parse(self.ledger_signing_key)
