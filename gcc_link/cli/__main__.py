"""``python -m gcc_link.cli`` runs the ``gcc-link`` command."""

from . import main

main()
