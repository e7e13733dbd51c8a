"""``python -m exchange.cli`` runs ``ptx`` (used by ``ptx up`` to start the services with this interpreter)."""

from exchange.cli import main

main()
