"""Intake's command handlers: load, decide (domain), append, for the routes and the reactions alike."""
