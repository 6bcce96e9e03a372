"""Initial node schema: outbox, inbox, rejections, message log, OAuth, services and grants.
Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:43:58.373539
"""

from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("service", sa.String(length=110), nullable=False),
        sa.Column("grantee", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("service", "grantee"),
        sa.UniqueConstraint("service", "grantee", name="uq_grant"),
    )
    op.create_table(
        "inbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.String(length=40), nullable=False),
        sa.Column("sender", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=110), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("in_reply_to", sa.String(length=36), nullable=True),
        sa.Column("content_type", sa.String(length=130), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("jws", sa.LargeBinary(), nullable=False),
        sa.Column("message_sha256", sa.String(length=64), nullable=False),
        sa.Column("receipt", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("acked_at", sa.Float(), nullable=True),
        sa.Column("push_status", sa.String(length=16), nullable=True),
        sa.Column("push_attempts", sa.Integer(), nullable=False),
        sa.Column("push_next_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_push", ["push_status", "push_next_at"], unique=False)
        batch_op.create_index("ix_inbox_recipient", ["recipient", "seq"], unique=False)

    op.create_table(
        "message_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=36), nullable=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("item_sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.create_index("ix_log_ref", ["ref"], unique=False)

    head = op.create_table(
        "message_log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # the one head row, locked by every append (the chain starts at the genesis hash)
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_hash": "0" * 64}])
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=True),
        sa.Column("public_key_pem", sa.Text(), nullable=True),
        sa.Column("auth_method", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_tokens_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "oauth_used_jti",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=40), nullable=False),
        sa.Column("peer", sa.String(length=2), nullable=False),
        sa.Column("service", sa.String(length=110), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("jws", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("signed_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outbox_sender", ["sender"], unique=False)

    op.create_table(
        "rejections",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("peer", sa.String(length=2), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.String(length=110), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("backend_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("services")
    op.drop_table("rejections")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_sender")
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    op.drop_table("oauth_used_jti")
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_expires_at"))

    op.drop_table("oauth_tokens")
    op.drop_table("oauth_clients")
    op.drop_table("message_log_head")
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_index("ix_log_ref")

    op.drop_table("message_log")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_recipient")
        batch_op.drop_index("ix_inbox_push")

    op.drop_table("inbox")
    op.drop_table("grants")
