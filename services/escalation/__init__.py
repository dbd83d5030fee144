"""Escalation: necessary disclosure under each agency's policy — tiered pages, deadlines, audited reveals."""
