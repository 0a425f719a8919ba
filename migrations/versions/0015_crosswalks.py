"""Crosswalks: an association's strength, who made, changed and confirmed it, and removed shipped links

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 12:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    # Rows made before these columns say nothing of who made them (NULL), rather than a guess.
    with op.batch_alter_table('framework_associations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('strength', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('created_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updated_by', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_framework_associations_strength'), 'strength IS NULL OR (strength >= 0 AND strength <= 1)'
        )

    op.create_table('framework_association_removals',
    sa.Column('association_id', sa.Uuid(), nullable=False),
    sa.Column('association_type', sa.String(length=100), nullable=False),
    sa.Column('origin_item_id', sa.Uuid(), nullable=False),
    sa.Column('destination_item_id', sa.Uuid(), nullable=False),
    sa.Column('removed_by', sa.String(length=300), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['destination_item_id'], ['framework_items.id'], name=op.f('fk_framework_association_removals_destination_item_id_framework_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['origin_item_id'], ['framework_items.id'], name=op.f('fk_framework_association_removals_origin_item_id_framework_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('association_id', name=op.f('pk_framework_association_removals'))
    )
    with op.batch_alter_table('framework_association_removals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_framework_association_removals_destination_item_id'), ['destination_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_framework_association_removals_origin_item_id'), ['origin_item_id'], unique=False)


def downgrade():
    with op.batch_alter_table('framework_association_removals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_framework_association_removals_origin_item_id'))
        batch_op.drop_index(batch_op.f('ix_framework_association_removals_destination_item_id'))

    op.drop_table('framework_association_removals')

    with op.batch_alter_table('framework_associations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_framework_associations_strength'), type_='check')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('reviewed_by')
        batch_op.drop_column('updated_by')
        batch_op.drop_column('created_at')
        batch_op.drop_column('created_by')
        batch_op.drop_column('strength')

