"""Matching's command handlers: load a case or a peer, decide (domain), append at its version."""
