"""distillguard.guard."""
