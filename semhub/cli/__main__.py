"""``python -m semhub.cli``: the same as the ``semhub`` command."""
from semhub.cli import main

main()
