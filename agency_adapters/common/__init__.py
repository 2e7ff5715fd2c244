"""Reference data shared by agency adapters (country codes, ...); pure data, no I/O."""
