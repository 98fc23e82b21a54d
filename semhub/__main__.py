"""``python -m semhub``: the same as the ``semhub`` command."""
from semhub.entry import run

run()
