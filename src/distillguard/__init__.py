"""distillguard: detect and stop distillation attacks against model APIs."""

__version__ = "0.1.0"
