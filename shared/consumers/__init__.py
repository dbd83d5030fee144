"""Durable consumers on the log, one module per consuming service; `shared.topology` provisions them all."""
