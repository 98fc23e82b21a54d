"""Plugins: the hook specifications, the plugin manager (loading, failures) and the catalog of what they registered."""
