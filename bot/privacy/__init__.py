"""Privacy: masking personal data before anything stores it, the masking tracker store and event broker, retention."""
