"""Wellness: peer load and breaks, follow-ups, debrief offers after critical incidents."""
