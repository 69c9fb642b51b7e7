"""The streaming runtime: partitions, leases, partition workers and the service lifecycle."""
