"""Ops data: masking personal data before storage, the masking stores, retention."""
