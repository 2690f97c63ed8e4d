"""The HTTP face: read-only views of the registry and statistics, plus request-reply scoring."""
