"""A region's synthetic history, decided by the services' own domain rules on a simulated clock.

`demo.shape` says how much happens when (weekly and seasonal rhythm, categories, outcomes);
`demo.activity` plays it through the services' pure decide functions and yields the events each service
would have appended, in time order; `demo.seeder` appends them under each service's bus identity
(`peerline up` runs `python -m demo seed`). The region benchmark (`bench.region`) reuses the same model
at a hundred agencies. No service imports this package (an import contract says so).
"""
