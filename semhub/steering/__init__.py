"""Steering: vectors.py builds a direction, apply.py adds it, generate.py generates, run.py runs an experiment."""
