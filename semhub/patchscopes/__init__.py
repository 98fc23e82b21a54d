"""Patchscopes in one place: the inspection prompt (inspection.py), source and patched states
(states.py), the dictionary analysis (analysis.py) and `semhub patchscope` as a library call (run.py)."""
