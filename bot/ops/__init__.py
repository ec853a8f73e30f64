"""Ops data: review, metrics and NLU export of conversations (the library behind /ops)."""
