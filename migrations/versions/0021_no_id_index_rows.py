"""No id rows in the statement index: references are followed from the stored statement's id

Every stored statement had an ``id`` row in ``lrs_statement_index`` (its own
id as text), only so that a StatementRef's ``target`` row could be joined to
the statement it names. The join now computes that text from
``statements.id`` itself, so the rows (a fifth of the index, each a random
key, so a page written per row at every batch) are deleted.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 23:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM lrs_statement_index WHERE kind = 'id'")


def downgrade():
    # The rows as the earlier code wrote them: each statement's id, lower-case and hyphenated.
    if op.get_bind().dialect.name == 'sqlite':
        parts = [f"substr(id, {start}, {length})" for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
        text = "lower(" + " || '-' || ".join(parts) + ")"
    else:
        text = "CAST(id AS TEXT)"
    op.execute(f"INSERT INTO lrs_statement_index (statement_pk, kind, value) SELECT pk, 'id', {text} FROM statements")
