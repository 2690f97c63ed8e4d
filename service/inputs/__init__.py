"""A model's inputs: the schema a model declares, the typed batch it is fed, and how record
fields bind and convert to it. The vocabulary under runtimes, routing and scoring alike."""
