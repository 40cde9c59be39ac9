"""``python -m flows`` is the ``searchvl`` command."""

from flows.cli import main

main()
