"""The control plane's state: the registry of models and versions, the routes declared per
dataType and the modes that implement them (single, shadow, canary, ensemble, speculative).
It speaks to the data plane only through service/serving/'s types."""
