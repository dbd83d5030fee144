"""The chaos runs' cluster: the one the end-to-end tests start (tests.support.cluster)."""

from tests.support.cluster import Cluster, wait_healthy

__all__ = ["Cluster", "wait_healthy"]
