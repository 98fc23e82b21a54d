"""Aligned datasets (aligned.py: rows of equivalent values, one column per view) and bilingual dictionaries."""
