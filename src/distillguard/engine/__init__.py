"""distillguard.engine."""
