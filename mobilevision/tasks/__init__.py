"""Per-task model assembly, losses and train / val / predict loops, and the shared engine."""
