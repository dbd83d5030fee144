"""Escalation: necessary disclosure under a per-agency policy — tiered, timed, audited."""
