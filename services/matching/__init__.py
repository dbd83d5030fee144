"""Matching: the peer directory, and a safe, fair assignment for every request."""
