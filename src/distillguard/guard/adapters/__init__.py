"""Adapters that put the guard in a gateway: LiteLLM proxy hooks and an HTTP webhook."""
