"""The extension contracts: what a plugin implements or returns (spoke, analysis, options, result, scorer,
steering preset, experiment, named model and dataset). Re-exported by ``semhub``."""
