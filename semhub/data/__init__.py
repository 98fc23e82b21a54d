"""Aligned datasets: rows of semantically equivalent values, one column per view."""
from semhub.data.aligned import AlignedDataset, load_aligned, parse_views

__all__ = ["AlignedDataset", "load_aligned", "parse_views"]
