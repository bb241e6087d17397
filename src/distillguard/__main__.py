"""`python -m distillguard` runs the CLI."""

from distillguard.cli.main import entrypoint

entrypoint()
