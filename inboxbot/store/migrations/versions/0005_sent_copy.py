"""Copies of sent mail saved to the IMAP Sent folder (imap.save_sent): their state on the outbox row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sent_copy", sa.String(length=16), nullable=True))
        batch.create_index("ix_outbox_status_sent_copy", ["status", "sent_copy"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_status_sent_copy")
        batch.drop_column("sent_copy")
