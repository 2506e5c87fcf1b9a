"""Which scoring policy version is in force (诚信评价办法): the default from the settings until an
activation, then the latest activation at or before the moment asked about. Activating a version
re-grades every subject, so that command lives with the evaluation (``evaluation.service``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import repository
from services.credit.env import CreditEnv
from services.credit.policy.documents import Policy, policy_at

# Key of policy activations on the credit topic: one partition, so activations stay in order.
POLICY_KEY = "policy"


async def policy_activations(session: AsyncSession, env: CreditEnv) -> list[tuple[datetime, Policy]]:
    """Every activation, oldest first, with its policy (a version no longer shipped stops the service:
    grades could not be re-derived)."""
    out: list[tuple[datetime, Policy]] = []
    for activation in await repository.activations(session):
        policy = env.registry.get(activation.version)
        if policy is None:
            raise RuntimeError(f"policy version {activation.version} is not available")
        out.append((activation.activated_at, policy))
    return out


def default_policy(env: CreditEnv) -> Policy:
    policy = env.registry.get(env.default_version)
    if policy is None:  # the settings name a version that is not shipped: a deployment error
        raise RuntimeError(f"policy version {env.default_version} is not available")
    return policy


async def policy_in_force(session: AsyncSession, env: CreditEnv, at: datetime) -> Policy:
    """The version in force at ``at``: the latest activation at or before it, else the default."""
    return policy_at(default_policy(env), await policy_activations(session, env), at)


async def active_policy(session: AsyncSession, env: CreditEnv) -> Policy:
    return await policy_in_force(session, env, env.now())


async def policy_versions(session: AsyncSession, env: CreditEnv) -> tuple[list[Policy], str]:
    active = await active_policy(session, env)
    return [p for v in env.registry.versions() if (p := env.registry.get(v)) is not None], active.version
