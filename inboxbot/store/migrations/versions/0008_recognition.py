"""What the recognizer read in each mail, and what a mail put before the director needs to become a case.

Shared mode reads every human mail no rule settled: a mail it is unsure of is kept as a candidate
(outcome "candidate", reference M-<id>) with its kind, channel, the words that made it one, a short
excerpt and whether the receiving server marked it as spam, until the director opens a case from
it (#ouvrir) or sets it aside (#ecarter).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mails") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("words", sa.Text(), server_default="[]", nullable=False))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("excerpt", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("spam", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("claimant", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("claimant_name", sa.String(length=256), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("mails") as batch:
        for column in ("claimant_name", "claimant", "spam", "excerpt", "score", "words", "channel", "kind"):
            batch.drop_column(column)
