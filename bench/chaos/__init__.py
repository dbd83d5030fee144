"""`make chaos`: a workload while processes die, then invariants checked against the log."""
