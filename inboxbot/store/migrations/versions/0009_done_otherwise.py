"""How an acknowledgement or an answer was made when inboxbot's mail did not make it, and risks.

The procedure allows an acknowledgement « par mail ou par courrier », and the director answers by
phone or letter too; the register must say how, or the date it shows is no one's word. The
response's content, for an answer made otherwise, is kept with it. The quality risks the director
analyses (`#risque`) feed the annual report.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from inboxbot.store.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("acknowledgement_means", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("response_means", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("response_note", sa.Text(), server_default="", nullable=False))
    op.create_table(
        "risks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_risks_at", "risks", ["at"])


def downgrade() -> None:
    op.drop_index("ix_risks_at", table_name="risks")
    op.drop_table("risks")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("response_note")
        batch.drop_column("response_means")
        batch.drop_column("acknowledgement_means")
