"""The acknowledgement cap counts mailboxes, not spellings of an address.

`outbox.recipient_key` holds the recipient folded by `mailbox_key` (case, `+tag`, Gmail's dots),
indexed with `created_at` so the per-mail count of today's acknowledgements to one mailbox stays
an index lookup. Rows written before get their address lower-cased, which is what the cap compared
until now.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("recipient_key", sa.String(320), nullable=True))
    op.execute("UPDATE outbox SET recipient_key = lower(recipient)")
    op.create_index("ix_outbox_recipient_key_created", "outbox", ["recipient_key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient_key_created", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("recipient_key")
