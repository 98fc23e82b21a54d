"""Analyses: builtin.py registers the built-in ones (similarity, logit-lens, language-trends); stats.py holds
the statistics they share; lens_view.py and token_sets.py are lens read-outs for commands and plugins."""
