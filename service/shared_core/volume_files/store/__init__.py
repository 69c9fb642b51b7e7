"""The Redis face of the core: key names, hash encoding, loading and fenced writes."""
