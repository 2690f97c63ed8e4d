"""Online learning: models that learn from feedback and are published as ordinary versions."""
