"""distillguard.cli."""
