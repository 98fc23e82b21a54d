"""Ingredients: the typed specs every entry point takes (model, data, store, engine), and resolving
the inputs they name (inputs.py) once, before any model loads."""
