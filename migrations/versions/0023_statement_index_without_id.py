"""The statement index without a surrogate key: rows are inserted and looked up by (kind, value) only

Nothing reads ``lrs_statement_index.id``: rows are written beside their
statement and found through ``ix_lrs_statement_index_lookup``. The column's
sequence value and primary-key B-tree insert cost each row about a quarter of
the server's time copying a batch's index rows (PostgreSQL's duration log,
100 batches of 100 statements: 1.84 against 1.40 ms per ``COPY``).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 18:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lrs_statement_index', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('pk_lrs_statement_index'), type_='primary')
        batch_op.drop_column('id')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # SERIAL numbers the rows there already, as the column's default numbered them when written.
        op.execute('ALTER TABLE lrs_statement_index ADD COLUMN id SERIAL')
        op.create_primary_key(op.f('pk_lrs_statement_index'), 'lrs_statement_index', ['id'])
        return
    # SQLite: the table is rebuilt (batch mode) and an INTEGER PRIMARY KEY numbers the copied rows.
    with op.batch_alter_table('lrs_statement_index', schema=None, recreate='always') as batch_op:
        batch_op.add_column(sa.Column('id', sa.Integer(), nullable=False))
        batch_op.create_primary_key(batch_op.f('pk_lrs_statement_index'), ['id'])
