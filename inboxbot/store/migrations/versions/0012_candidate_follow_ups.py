"""A mail that continues a candidate still « à qualifier » joins it instead of becoming a second one.

A follow-up (« vous avez eu mon message ? ») or a reply in the same thread is recorded with outcome
"joined" and `joined_to`, the id of the candidate it continues: the digest shows one line with the
number of messages, and #ouvrir / #ecarter on the candidate take every joined mail along.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mails") as batch:
        batch.add_column(sa.Column("joined_to", sa.Integer(), nullable=True))
        batch.create_index("ix_mails_joined_to", ["joined_to"])


def downgrade() -> None:
    with op.batch_alter_table("mails") as batch:
        batch.drop_index("ix_mails_joined_to")
        batch.drop_column("joined_to")
