"""The `g2g` command line: one module per command group, each with `register()`."""
