"""distillguard.features."""
