"""The procedure: stakeholder, training, transmitter, extensions, dismissal, satisfaction; actions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import inboxbot.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stakeholder", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("training", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("transmitter", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("extended_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("extension_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("dismissed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("feedback_requested_at", inboxbot.store.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("satisfaction_mark", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("satisfaction_comment", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("satisfaction_at", inboxbot.store.models.UTCDateTime(timezone=True), nullable=True)
        )

    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", inboxbot.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", inboxbot.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "seq"),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_actions_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_actions_due"), ["due"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actions_due"))
        batch_op.drop_index(batch_op.f("ix_actions_case_id"))
    op.drop_table("actions")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for column in (
            "satisfaction_at",
            "satisfaction_comment",
            "satisfaction_mark",
            "feedback_requested_at",
            "dismissed",
            "extension_reason",
            "extended_due",
            "transmitter",
            "description",
            "training",
            "stakeholder",
        ):
            batch_op.drop_column(column)
