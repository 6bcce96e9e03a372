"""achievements.published_at: when an achievement was first published

Like ``practices.published_at``, it is set on the first publication and never
cleared, so the portal knows a record has been public even after it went
back to review: only the secretariat may delete such records. Existing
published achievements get their last change time.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("achievements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE achievements SET published_at = updated_at WHERE status = 'published'")


def downgrade() -> None:
    with op.batch_alter_table("achievements", schema=None) as batch_op:
        batch_op.drop_column("published_at")
