"""Development helpers, not the library: a throwaway redis-server and the recorded sample data.

The demo, the tests and the benchmarks use them; the service and the library never do.
"""
