"""What the credit service takes from other services' events (consumer group ``credit``), and the
three decisions of its own that it reads back from its topic so that a replay reproduces them.

Every handler is order-tolerant: an event about a subject whose record is not open yet opens it; an
entry is keyed by the fact it records (violation id, task id, report year), so the same fact sent
twice counts once; and the grade is recomputed from all entries afterwards, never adjusted.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.env import CreditEnv
from services.credit.evaluation import service as evaluation_service
from services.credit.facts import DOMAIN_FACTS, Fact, MarkDeregistered, OpenRecord, RecordEntry, facts_of
from services.credit.records import service as records_service
from services.credit.repair import service as repair_service
from shared.app import ConsumerSpec, ServiceContext
from shared.batch import BatchCollector
from shared.events import DecodedEvent, EventData
from shared.events.credit import CreditPolicyActivatedV1, CreditRepairAppliedV1, CreditRepairDecidedV1
from shared.handlers import Handlers
from shared.topics import CREDIT_EVENTS, FILING_EVENTS, INSPECTION_EVENTS


def credit_handlers(ctx: ServiceContext, env: CreditEnv) -> Handlers:
    outbox = ctx.outbox

    async def evaluate(session: AsyncSession, subjects: list[tuple[str, str]]) -> None:
        # each subject once, in the order the batch first touched it
        await evaluation_service.reevaluate_many(session, outbox, env, list(dict.fromkeys(subjects)))

    # No reason is passed: the history's reasons are derived from the facts themselves (timeline.py),
    # so that a replay in any order writes the same words. Once per subject per consumed batch, all of
    # the batch's subjects together at its end: the grade and its history are a function of the
    # subject's dated entries, so evaluating after the batch's last entry ends where evaluating after
    # each would.
    regrades = BatchCollector[tuple[str, str]]("credit.regrade", evaluate)
    registry = Handlers()

    async def regrade(session: AsyncSession, kind: str, subject_id: str) -> None:
        await regrades.add(session, (kind, subject_id))

    async def apply(session: AsyncSession, facts: list[Fact]) -> None:
        """An event's facts (``facts.py``, shared with the bulk rebuild), applied in their order."""
        for fact in facts:
            if isinstance(fact, OpenRecord):
                await records_service.open_record(
                    session,
                    outbox,
                    kind=fact.kind,
                    subject_id=fact.subject_id,
                    at=fact.at,
                    source=fact.source,
                    display_name=fact.display_name,
                    district_code=fact.district_code,
                )
            elif isinstance(fact, RecordEntry):
                await records_service.record_entry(session, env, **fact.entry_fields())
            elif isinstance(fact, MarkDeregistered):
                await records_service.mark_deregistered(session, fact.institution_id, fact.at)
            else:
                await regrade(session, fact.kind, fact.subject_id)

    @registry.on(*DOMAIN_FACTS)
    async def on_domain_event(session: AsyncSession, data: EventData, event: DecodedEvent) -> None:
        await apply(session, facts_of(event, env))

    # --- the credit service's own decisions, read back from its topic (record_* of repair and evaluation) ---
    # Only these three of the credit topic: the service's outputs (grades, lists) are not inputs.

    @registry.on(CreditRepairAppliedV1)
    async def on_repair_applied(session: AsyncSession, data: CreditRepairAppliedV1, event: DecodedEvent) -> None:
        await repair_service.record_repair_application(session, data)

    @registry.on(CreditRepairDecidedV1)
    async def on_repair_decided(session: AsyncSession, data: CreditRepairDecidedV1, event: DecodedEvent) -> None:
        await repair_service.record_repair_decision(session, outbox, env, data)

    @registry.on(CreditPolicyActivatedV1)
    async def on_policy_activated(session: AsyncSession, data: CreditPolicyActivatedV1, event: DecodedEvent) -> None:
        await evaluation_service.record_policy_activation(session, outbox, env, data)

    return registry


def make_consumers(env: CreditEnv) -> Callable[[ServiceContext], list[ConsumerSpec]]:
    def consumers(ctx: ServiceContext) -> list[ConsumerSpec]:
        return [
            ConsumerSpec(
                name="credit",
                topics=[FILING_EVENTS, INSPECTION_EVENTS, CREDIT_EVENTS],
                handlers=credit_handlers(ctx, env),
            )
        ]

    return consumers
