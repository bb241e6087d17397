"""distillguard.policy."""
