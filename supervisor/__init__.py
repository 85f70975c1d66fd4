"""Process lifecycles: the mycelium daemon, running servers / ui / admin together, the command line."""

__all__: list[str] = []
