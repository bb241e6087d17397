"""distillguard.scoring."""
