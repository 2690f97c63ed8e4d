"""The only code that talks to Kafka: client factories (every client is made here, with its
connection options from one function, clients.connection_options), topics, the control reader
and publisher, the data loop and its part, the event publisher and the learner's consumers.
Code outside uses the clients through the Protocols of seams.py."""
