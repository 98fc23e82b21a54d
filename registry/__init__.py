"""Registry entries shipped with semhub: one TOML file per model family (see docs/registry.md)."""
