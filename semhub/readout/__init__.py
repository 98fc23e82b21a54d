"""The read-out layer: capture (layers -> hooks), the logit lens, batching views through spokes, lens sites."""
