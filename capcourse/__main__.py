"""``python -m capcourse …``: the ``capcourse`` command (how ``capcourse serve`` starts its delivery worker)."""

from capcourse.cli import main

main()
