"""Confirmations and rejections of suggestions

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'suggestion_decisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('subject_kind', sa.String(length=20), nullable=False),
        sa.Column('subject_id', sa.Uuid(), nullable=False),
        sa.Column('programme_id', sa.Uuid(), nullable=True),
        sa.Column('item_id', sa.Uuid(), nullable=False),
        sa.Column('decision', sa.String(length=20), nullable=False),
        sa.Column('subject_text', sa.Text(), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=True),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('actor', sa.String(length=300), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("decision IN ('confirmed', 'rejected')", name=op.f('ck_suggestion_decisions_decision')),
        sa.CheckConstraint("kind IN ('mapping', 'equivalent', 'area')", name=op.f('ck_suggestion_decisions_kind')),
        sa.CheckConstraint(
            "subject_kind IN ('module', 'activity', 'item')", name=op.f('ck_suggestion_decisions_subject_kind')
        ),
        sa.ForeignKeyConstraint(
            ['item_id'], ['framework_items.id'], name=op.f('fk_suggestion_decisions_item_id_framework_items'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['programme_id'], ['programmes.id'], name=op.f('fk_suggestion_decisions_programme_id_programmes'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestion_decisions')),
        sa.UniqueConstraint('kind', 'subject_id', 'item_id', name=op.f('uq_suggestion_decisions_kind_subject_id_item_id')),
    )
    with op.batch_alter_table('suggestion_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_decisions_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestion_decisions_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestion_decisions_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestion_decisions_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestion_decisions_subject_id'), ['subject_id'], unique=False)


def downgrade():
    op.drop_table('suggestion_decisions')
