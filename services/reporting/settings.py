from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.reporting.ledger.cosign import WitnessVerifier
from services.reporting.ledger.leaves import LeafFormat, salt_key
from services.reporting.ledger.notes import NoteError, Signer, Verifier, valid_name
from shared.settings import DEV_PII_HMAC_SECRET, ServiceSettings

# Development only. The dev ledger key of a deployment is derived from this and the deployment's own
# pii_hmac_secret (which never rotates, so the key is stable across restarts): deployments with their
# own secret sign with their own key; tests (default secrets) sign with one deterministic, public key.
# devstack goes further and generates a random key once into its data dir (devstack/run.py).
# Production refuses every derived key, as it refuses the other dev secrets.
DEV_LEDGER_SIGNING_SECRET = "dev-only-ledger-signing-secret"


def dev_signer(origin: str, deployment_secret: str | None = None) -> Signer:
    """The development signer; ``deployment_secret`` None: the key shared by every deployment that
    kept the default secrets (the one the tests use)."""
    label = f"{DEV_LEDGER_SIGNING_SECRET}\n{origin}".encode()
    if deployment_secret is None:
        return Signer.from_seed(origin, hashlib.sha256(label).digest())
    return Signer.from_seed(origin, hmac.new(deployment_secret.encode(), label, hashlib.sha256).digest())


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
    # The leaf version new entries get (services/reporting/leaves.py, docs/ledger.md): 2 commits
    # every data field on its own so an agency can recompute the leaf from its granted fields.
    # Entries already appended keep their version.
    ledger_leaf_version: Literal[1, 2] = 2
    # Witness keys (C2SP cosignature/v1 verifier keys, name+hexid+base64(0x04 || public key)) per
    # agency (the <name> of role agency:<name>): only these may cosign checkpoints.
    ledger_witness_keys: dict[str, list[str]] = Field(default_factory=dict)
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
        for agency, keys in self.ledger_witness_keys.items():
            for index, key in enumerate(keys):
                try:
                    WitnessVerifier.parse(key)
                except NoteError as exc:
                    name = f"{self.setting_name('ledger_witness_keys', agency)} key {index}"
                    raise ValueError(f"{name}: {exc}") from exc
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
                if signer.seed in self._dev_seeds(signer.name):
                    problems.append(f"{name} is the development ledger signing key")
        for index, vkey in enumerate(self.ledger_previous_verifier_keys):
            name = self.setting_name("ledger_previous_verifier_keys", str(index))
            try:
                verifier = Verifier.parse(vkey)
            except NoteError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if verifier.public_key in self._dev_public_keys(verifier.name):
                problems.append(f"{name} is the development ledger verifier key")
        return problems

    def _dev_signers(self, origin: str) -> list[Signer]:
        return [dev_signer(origin), dev_signer(origin, self.pii_hmac_secret)]

    def _dev_seeds(self, origin: str) -> set[bytes]:
        return {s.seed for s in self._dev_signers(origin)}

    def _dev_public_keys(self, origin: str) -> set[bytes]:
        return {s.public_key for s in self._dev_signers(origin)}

    def ledger_signer(self) -> Signer:
        if self.ledger_signing_key is None:
            return self.dev_ledger_signer()
        return Signer.parse(self.ledger_signing_key)

    def dev_ledger_signer(self) -> Signer:
        """This deployment's development key: the fixed public one while pii_hmac_secret is the
        development default, else derived from this deployment's pii_hmac_secret."""
        if self.pii_hmac_secret == DEV_PII_HMAC_SECRET:
            return dev_signer(self.ledger_origin)
        return dev_signer(self.ledger_origin, self.pii_hmac_secret)

    def leaf_format(self) -> LeafFormat:
        """New leaves: the configured version; v2 salts keyed by this deployment's pii_hmac_secret."""
        return LeafFormat(version=self.ledger_leaf_version, salt_key=salt_key(self.pii_hmac_secret))
