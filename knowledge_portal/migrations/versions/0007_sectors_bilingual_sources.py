"""sectors as records; bilingual sources; last-updated date of services

Revision ID: 0007
Revises: 0006

* ``sectors`` (code, label_ar, label_en, sort_order), seeded with the default
  vocabulary so existing services and practices keep their labels.
* ``source`` becomes ``source_en`` (existing sources were English) and
  ``source_ar`` is added, on services, achievements, award editions,
  practices and UN ranks.
* ``services.updated_at`` (shown as "last updated").
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SOURCED = {"services": 500, "achievements": 500, "award_editions": 500, "practices": 500, "egdi_ranks": 300}

# A frozen copy of the seed (a migration must not change when vocab.py does).
SEED = [
    ("government", "الإدارة الحكومية", "Government administration"),
    ("interior", "الداخلية والإقامة", "Interior and residency"),
    ("security", "الأمن والدفاع المدني", "Security and civil defence"),
    ("justice", "العدل", "Justice"),
    ("health", "الصحة", "Health"),
    ("education", "التعليم", "Education"),
    ("social", "التنمية الاجتماعية", "Social development"),
    ("labour", "العمل والشؤون الاجتماعية", "Labour and social affairs"),
    ("housing", "الإسكان", "Housing"),
    ("municipal", "الخدمات البلدية", "Municipal services"),
    ("commerce", "التجارة والصناعة", "Commerce and industry"),
    ("customs", "الجمارك والمنافذ", "Customs and borders"),
    ("finance", "المالية والمدفوعات", "Finance and payments"),
    ("transport", "النقل", "Transport"),
    ("ict", "الاتصالات والحكومة الرقمية", "ICT and digital government"),
]


def upgrade() -> None:
    sectors = op.create_table(
        "sectors",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label_ar", sa.String(length=200), nullable=False),
        sa.Column("label_en", sa.String(length=200), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.bulk_insert(
        sectors,
        [{"code": c, "label_ar": ar, "label_en": en, "sort_order": i} for i, (c, ar, en) in enumerate(SEED, start=1)],
    )
    for table, length in SOURCED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "source", new_column_name="source_en", existing_type=sa.String(length=length), existing_nullable=False
            )
            batch_op.add_column(sa.Column("source_ar", sa.String(length=length), nullable=False, server_default=""))
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
    for table, length in SOURCED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("source_ar")
            batch_op.alter_column(
                "source_en", new_column_name="source", existing_type=sa.String(length=length), existing_nullable=False
            )
    op.drop_table("sectors")
