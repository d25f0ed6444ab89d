"""Each mail inboxbot queues keeps its text, so the exchange log shows what was written.

Before, an outgoing entry of the log read « acknowledgement → lea@… »: the register's `text` for
our own mails (« the text sent », as the JSON register promises) needed the bytes parsed again.
Rows written before keep an empty text, and the log shows what they were and to whom.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("text")
