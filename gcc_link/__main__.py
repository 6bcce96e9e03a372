"""``python -m gcc_link`` runs the ``gcc-link`` command."""

from .cli import main

main()
