"""distillguard.sim."""
