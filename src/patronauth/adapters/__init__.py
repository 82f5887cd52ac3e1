"""Adapters: the real implementations of the ports, and their memory or null twins."""
