"""The recognizer's French notes on each mail it read: why a mail is before the director beyond its words.

« modèle appris : ressemble à une réclamation… », « grief net, à qualifier… », « message signalé
comme indésirable… »: kept as a JSON list beside the words and the excerpt, shown in the digest's
« à qualifier » line and by `inboxbot mails list`, and anonymised with the excerpt (they may quote
the mail). Mails read before it have none.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mails") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("mails") as batch:
        batch.drop_column("notes")
