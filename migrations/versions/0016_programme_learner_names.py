"""Learners' names as each programme knows them

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'programme_learners',
        sa.Column('programme_id', sa.Uuid(), nullable=False),
        sa.Column('learner_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=300), nullable=False),
        sa.Column('updated_by', sa.String(length=300), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('programme_id', 'learner_id'),
    )
    with op.batch_alter_table('programme_learners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_learners_learner_id'), ['learner_id'], unique=False)
    # Every programme keeps the name its cohorts showed until now (the learner's shared name), so
    # nothing a programme sees changes; from here on a name given in one programme stays there.
    op.execute(
        """
        INSERT INTO programme_learners (programme_id, learner_id, name, updated_by, updated_at)
        SELECT DISTINCT cohorts.programme_id, learners.id, learners.name, 'migration 0016', CURRENT_TIMESTAMP
        FROM cohort_members
        JOIN cohorts ON cohorts.id = cohort_members.cohort_id
        JOIN learners ON learners.id = cohort_members.learner_id
        WHERE learners.name IS NOT NULL
        """
    )


def downgrade():
    with op.batch_alter_table('programme_learners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_learners_learner_id'))
    op.drop_table('programme_learners')
