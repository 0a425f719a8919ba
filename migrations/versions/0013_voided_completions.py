"""Completions keep when they were voided

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('completions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_completions_programme_success_learner')
        batch_op.create_index(
            'ix_completions_programme_success_learner',
            ['programme_id', 'success', 'voided_at', 'learner_id'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('completions', schema=None) as batch_op:
        batch_op.drop_index('ix_completions_programme_success_learner')
        batch_op.create_index(
            'ix_completions_programme_success_learner', ['programme_id', 'success', 'learner_id'], unique=False
        )
        batch_op.drop_column('voided_at')
