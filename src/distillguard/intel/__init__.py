"""distillguard.intel."""
