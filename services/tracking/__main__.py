"""Tracking: coded contact reports, case closing, leadership trends and the coordinator audit view."""

from services.tracking.main import main

main()
