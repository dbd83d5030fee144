"""Wellness: peer load and breaks, follow-ups, debrief offers, cumulative exposure check-ins."""

from services.wellness.main import main

main()
