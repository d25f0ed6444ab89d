"""A case merged into another (#fusionner) keeps its row and says which case it joined.

The register an auditor reads shows it « fusionné dans 2026-0001 » rather than losing it, and
threading follows the merge: a reply tagged with its number lands in the case it joined.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("merged_into", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("merged_into")
