"""Model runtimes: one module per model format behind the small interface in ``base``."""
