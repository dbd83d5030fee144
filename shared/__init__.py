"""Peerline's shared platform: wire contracts and glue. No business logic lives here."""
