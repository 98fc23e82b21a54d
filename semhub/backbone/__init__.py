"""Backbones: loading any HF causal LM and giving uniform access to its parts."""
from semhub.backbone.adapter import Backbone
from semhub.backbone.loading import ModelSource, load_backbone

__all__ = ["Backbone", "ModelSource", "load_backbone"]
