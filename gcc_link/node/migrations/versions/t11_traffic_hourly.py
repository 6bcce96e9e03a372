"""traffic_hourly: messages and calls per peer state per hour, for the signed status

Revision ID: t11_traffic
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = "t11_traffic"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traffic_hourly",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("peer", sa.String(length=2), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "peer", "direction", "outcome"),
    )


def downgrade() -> None:
    op.drop_table("traffic_hourly")
