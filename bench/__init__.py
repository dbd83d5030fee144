"""Peerline's throughput and latency benchmark: raw JetStream baselines versus the projection machinery.

Run `python -m bench --help`. Results go to the console (a rich table) and to `<out>/<UTC timestamp>.json`.
"""
