"""Notify's reactions: the dispatcher sends what the inbox queued, the outbox puts outcomes on the log."""
