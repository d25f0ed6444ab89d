"""A case says when its reception date is not a server's reception of the claim.

A claim the director forwards to herself is dated by the original's reception in her mailbox; when
the original is nowhere to be found, by the date its forwarded header gives, or by the forward
itself: `cases.received_from` records which ("forwarded_header", "forward"), so that the register,
`cases show` and the history say it. Null for every case before, all dated by a server.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("received_from", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("received_from")
