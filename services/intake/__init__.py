"""Intake: requests for support, the identity vault, and critical incidents from dispatch."""
