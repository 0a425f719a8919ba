"""Every model of every domain, imported so that the metadata is complete.

Alembic's autogenerate and the drift test compare against ``db.metadata``; a
domain whose models were never imported would look like a table to drop.
"""

from capcourse.accounts.models import ApiKey
from capcourse.frameworks.models import Association, Framework, IconLegendEntry, Item

__all__ = ["ApiKey", "Association", "Framework", "IconLegendEntry", "Item"]
