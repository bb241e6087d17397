"""distillguard.detectors."""
