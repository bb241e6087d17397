"""Errors a user can act on: shown as one clear message, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """An expected failure caused by input or configuration.

    The message must name the file, line or field at fault and the way forward; the CLI
    prints it and exits with status 2.
    """
