"""admin soft delete: deleted_at and deleted_by on the records the admin deletes (restorable)

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("services", "achievements", "award_editions", "practices", "standards", "tag_labels")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
            batch.add_column(sa.Column("deleted_by", sa.String(length=120), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deleted_by")
            batch.drop_column("deleted_at")
