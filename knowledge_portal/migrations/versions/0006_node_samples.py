"""node_samples: the network collector's verified history of each member node

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cc", sa.String(length=2), nullable=False),
        sa.Column("polled_at", sa.DateTime(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=40), nullable=True),
        sa.Column("status_at", sa.DateTime(), nullable=True),
        sa.Column("directory_version", sa.Integer(), nullable=True),
        sa.Column("queue_depth", sa.Integer(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_node_samples_cc", "node_samples", ["cc"])
    op.create_index("ix_node_samples_polled_at", "node_samples", ["polled_at"])


def downgrade() -> None:
    op.drop_index("ix_node_samples_polled_at", table_name="node_samples")
    op.drop_index("ix_node_samples_cc", table_name="node_samples")
    op.drop_table("node_samples")
