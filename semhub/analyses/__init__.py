"""Analyses: one module per analysis (its declaration and its computation); stats.py and
alignment_metrics.py hold what they share."""
