"""target pool, inspectors, plans, tasks, violations, publication, idempotency

Revision ID: inspection_0002
Revises: inspection_0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "inspection_0002"
down_revision: str | None = "inspection_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "target_institution",
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("uscc", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("operating_model", sa.Text, nullable=False),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("street_code", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("profile", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("profile_at", TZ, nullable=False),
        sa.Column("deregistered_at", TZ),
        sa.Column("updated_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name="pk_target_institution"),
        sa.CheckConstraint("status IN ('filed', 'deregistered')", name="ck_target_institution_status_known"),
    )
    op.create_index("ix_target_institution_district", "target_institution", ["district_code", "status"])
    op.create_table(
        "target_grade",
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("graded_at", TZ, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name="pk_target_grade"),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="ck_target_grade_grade_known"),
    )
    op.create_table(
        "target_staff",
        sa.Column("staff_id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("person_ref", sa.Text, nullable=False),
        sa.Column("id_masked", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("left_on", sa.Date),
        sa.PrimaryKeyConstraint("staff_id", name="pk_target_staff"),
    )
    op.create_index("ix_target_staff_institution_id", "target_staff", ["institution_id"])
    op.create_table(
        "inspector",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("agency", sa.Text, nullable=False),
        sa.Column("badge_number", sa.Text, nullable=False),
        sa.Column("districts", ARRAY(sa.Text), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspector"),
        sa.UniqueConstraint("subject", name="uq_inspector_subject"),
        sa.UniqueConstraint("badge_number", name="uq_inspector_badge_number"),
    )
    op.create_table(
        "inspector_conflict",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("inspector_id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("declared_by", sa.Text, nullable=False),
        sa.Column("declared_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspector_conflict"),
        sa.ForeignKeyConstraint(
            ["inspector_id"], ["inspector.id"], name="fk_inspector_conflict_inspector_id_inspector"
        ),
        sa.UniqueConstraint("inspector_id", "institution_id", name="uq_inspector_conflict_pair"),
    )
    op.create_index("ix_inspector_conflict_institution_id", "inspector_conflict", ["institution_id"])
    op.create_table(
        "plan",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("districts", ARRAY(sa.Text), nullable=False),
        sa.Column("operating_models", ARRAY(sa.Text), nullable=False),
        sa.Column("ratios", JSONB, nullable=False),
        sa.Column("team_size", sa.Integer, nullable=False),
        sa.Column("window_start", sa.Date, nullable=False),
        sa.Column("window_end", sa.Date, nullable=False),
        sa.Column("checklist", JSONB, nullable=False),
        sa.Column("publication_working_days", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("server_seed", sa.Text),
        sa.Column("commitment", sa.Text),
        sa.Column("institutions", JSONB),
        sa.Column("inspectors", JSONB),
        sa.Column("institutions_hash", sa.Text),
        sa.Column("inspectors_hash", sa.Text),
        sa.Column("committed_by", sa.Text),
        sa.Column("committed_at", TZ),
        sa.Column("witness_value", sa.Text),
        sa.Column("draw_seed", sa.Text),
        sa.Column("result", JSONB),
        sa.Column("drawn_by", sa.Text),
        sa.Column("drawn_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_plan"),
        sa.CheckConstraint("status IN ('draft', 'committed', 'drawn')", name="ck_plan_status_known"),
        sa.CheckConstraint("team_size >= 2", name="ck_plan_team_size_min"),
        sa.CheckConstraint("window_start <= window_end", name="ck_plan_window_ordered"),
    )
    op.create_table(
        "task",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("plan_id", sa.Uuid),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("follow_up_of", sa.Uuid),
        sa.Column("checklist", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("due_by", sa.Date, nullable=False),
        sa.Column("publication_working_days", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("submitted_at", TZ),
        sa.Column("publication_due", sa.Date),
        sa.Column("publication_due_provisional", sa.Boolean, nullable=False),
        sa.Column("reviewed_by", sa.Text),
        sa.Column("reviewed_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_task"),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], name="fk_task_plan_id_plan"),
        sa.CheckConstraint("kind IN ('random', 'targeted')", name="ck_task_kind_known"),
        sa.CheckConstraint(
            "status IN ('assigned', 'in_progress', 'submitted', 'reviewed')", name="ck_task_status_known"
        ),
    )
    op.create_index("ix_task_institution", "task", ["institution_id", "created_at"])
    op.create_table(
        "task_member",
        sa.Column("task_id", sa.Uuid, nullable=False),
        sa.Column("inspector_id", sa.Uuid, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("signed_at", TZ),
        sa.PrimaryKeyConstraint("task_id", "inspector_id", name="pk_task_member"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name="fk_task_member_task_id_task"),
        sa.ForeignKeyConstraint(["inspector_id"], ["inspector.id"], name="fk_task_member_inspector_id_inspector"),
    )
    op.create_index("ix_task_member_inspector_id", "task_member", ["inspector_id"])
    op.create_table(
        "task_checkin",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("task_id", sa.Uuid, nullable=False),
        sa.Column("inspector_id", sa.Uuid, nullable=False),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("distance_m", sa.Float, nullable=False),
        sa.Column("far_from_site", sa.Boolean, nullable=False),
        sa.Column("checked_in_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_checkin"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name="fk_task_checkin_task_id_task"),
        sa.ForeignKeyConstraint(["inspector_id"], ["inspector.id"], name="fk_task_checkin_inspector_id_inspector"),
    )
    op.create_index("ix_task_checkin_task_id", "task_checkin", ["task_id"])
    op.create_table(
        "task_finding",
        sa.Column("task_id", sa.Uuid, nullable=False),
        sa.Column("item_code", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("evidence_sha256", ARRAY(sa.Text), nullable=False),
        sa.Column("updated_by", sa.Uuid, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "item_code", name="pk_task_finding"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name="fk_task_finding_task_id_task"),
        sa.CheckConstraint("result IN ('pass', 'fail', 'not_applicable')", name="ck_task_finding_result_known"),
    )
    op.create_table(
        "violation",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("task_id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("person_ref", sa.Text),
        sa.Column("evidence_sha256", ARRAY(sa.Text), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Uuid, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("confirmed_at", TZ),
        sa.Column("rectification_due", sa.Date),
        sa.Column("rectification_reported_at", TZ),
        sa.Column("closed_at", TZ),
        sa.Column("closed_by_task_id", sa.Uuid),
        sa.Column("escalated_at", TZ),
        sa.PrimaryKeyConstraint("id", name="pk_violation"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name="fk_violation_task_id_task"),
        sa.CheckConstraint(
            "status IN ('recorded', 'dismissed', 'confirmed', 'rectification_reported', 'closed', 'escalated')",
            name="ck_violation_status_known",
        ),
        sa.CheckConstraint(
            "severity IN ('minor', 'general', 'serious', 'critical')", name="ck_violation_severity_known"
        ),
    )
    op.create_index("ix_violation_task_id", "violation", ["task_id"])
    op.create_index("ix_violation_institution_id", "violation", ["institution_id"])
    op.create_index("ix_violation_status_due", "violation", ["status", "rectification_due"])
    op.create_table(
        "published_result",
        sa.Column("task_id", sa.Uuid, nullable=False),
        sa.Column("institution_id", sa.Uuid, nullable=False),
        sa.Column("institution_name", sa.Text, nullable=False),
        sa.Column("district_code", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("conclusion", sa.Text, nullable=False),
        sa.Column("violations_by_severity", JSONB, nullable=False),
        sa.Column("summary_zh", sa.Text, nullable=False),
        sa.Column("inspected_on", sa.Date, nullable=False),
        sa.Column("publication_due", sa.Date, nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_published_result"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name="fk_published_result_task_id_task"),
        sa.CheckConstraint(
            "conclusion IN ('compliant', 'rectification_required', 'non_compliant')",
            name="ck_published_result_conclusion_known",
        ),
    )
    op.create_index("ix_published_result_institution_id", "published_result", ["institution_id"])
    op.create_index("ix_published_result_published_at", "published_result", ["published_at"])
    op.create_table(
        "idempotency_record",
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response_body", JSONB),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "key", name="pk_idempotency_record"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_record")
    op.drop_index("ix_published_result_published_at", table_name="published_result")
    op.drop_index("ix_published_result_institution_id", table_name="published_result")
    op.drop_table("published_result")
    op.drop_index("ix_violation_status_due", table_name="violation")
    op.drop_index("ix_violation_institution_id", table_name="violation")
    op.drop_index("ix_violation_task_id", table_name="violation")
    op.drop_table("violation")
    op.drop_table("task_finding")
    op.drop_index("ix_task_checkin_task_id", table_name="task_checkin")
    op.drop_table("task_checkin")
    op.drop_index("ix_task_member_inspector_id", table_name="task_member")
    op.drop_table("task_member")
    op.drop_index("ix_task_institution", table_name="task")
    op.drop_table("task")
    op.drop_table("plan")
    op.drop_index("ix_inspector_conflict_institution_id", table_name="inspector_conflict")
    op.drop_table("inspector_conflict")
    op.drop_table("inspector")
    op.drop_index("ix_target_staff_institution_id", table_name="target_staff")
    op.drop_table("target_staff")
    op.drop_table("target_grade")
    op.drop_index("ix_target_institution_district", table_name="target_institution")
    op.drop_table("target_institution")
