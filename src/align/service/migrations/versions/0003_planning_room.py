"""The planning room: manual changes of a run's plan, and the review of quota proposals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_changes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("owner", sa.String(64), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("accounts", sa.JSON, nullable=False),
        sa.Column("previous", sa.JSON, nullable=False),
        sa.Column("territory", sa.String(200), nullable=False),
        sa.Column("locked", sa.Boolean, nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_seq", sa.Integer, nullable=True),
        sa.Column("undone_by", sa.String(200), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("run_id", "seq"),
    )
    for table in ("proposal_reviews", "proposal_comments"):
        op.create_table(
            table,
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column(
                "proposal_id",
                sa.String(32),
                sa.ForeignKey("proposals.id", ondelete="CASCADE"),
                nullable=False,
                index=True,
            ),
            sa.Column("region", sa.String(200), nullable=False),
            *(
                (
                    sa.Column("state", sa.String(24), nullable=False),
                    sa.Column("who", sa.String(200), nullable=False),
                    sa.Column("role", sa.String(16), nullable=False),
                    sa.Column("note", sa.Text, nullable=False),
                )
                if table == "proposal_reviews"
                else (
                    sa.Column("who", sa.String(200), nullable=False),
                    sa.Column("text", sa.Text, nullable=False),
                )
            ),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        )


def downgrade() -> None:
    for table in ("proposal_comments", "proposal_reviews", "plan_changes"):
        op.drop_table(table)
