"""a consultation remembers when its meeting was reminded of

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 07:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consultation") as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("consultation") as batch_op:
        batch_op.drop_column("reminded_at")
