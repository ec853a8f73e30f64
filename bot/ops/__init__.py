"""Ops data: masking before storage, the masking stores, retention; review, metrics and NLU export of conversations."""
