"""``python -m plaudit_collector.cli``: the ``plaudit`` command."""

from plaudit_collector.cli import main

main()
