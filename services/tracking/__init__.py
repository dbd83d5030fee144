"""Tracking: coded contact reports and leadership trends that never identify anyone."""
