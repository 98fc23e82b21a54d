"""Backbones: loading any HF model (loading.py), uniform access to its parts (adapter.py), the registry of
model families (registry.py), tokenizer quirks (tokenization.py) and the load-time checks (checks.py)."""
