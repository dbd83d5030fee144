"""Tracking's read models, rebuildable from the log: anonymous trends, and the coordinator audit view."""
