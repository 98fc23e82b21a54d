"""Steering: build a direction in one data type and add it to the residual stream in another."""
from semhub.steering.apply import POSITIONS, steer
from semhub.steering.generate import Generation, generate
from semhub.steering.vectors import SteeringVector, from_contrast, from_prompt_pair, from_unembedding, load_vector

__all__ = [
    "POSITIONS", "Generation", "SteeringVector", "from_contrast", "from_prompt_pair", "from_unembedding",
    "generate", "load_vector", "steer",
]
