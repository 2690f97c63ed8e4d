"""What the two planes share: a model as published (its descriptor), a model in service, the
model events, and a route as the engine calls it. ``routing`` (the control plane's state) and
``scoring`` (the data plane) both import this package and never each other."""
