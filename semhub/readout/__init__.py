"""The read-out layer: capture (pooled states through the layer convention), batching views through
spokes (collect.py), layer selections (layers.py)."""
