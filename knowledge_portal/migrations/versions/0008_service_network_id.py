"""services.network_service: the service's address on the GCC network (CC/AGENCY/code)

A catalogue entry that names it is compared with what the state's node
attests in its signed status (readiness stage, e-payment).

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("network_service", sa.String(length=110), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("network_service")
