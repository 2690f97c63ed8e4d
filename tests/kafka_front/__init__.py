"""A TLS and SASL front before the plaintext test broker, and the tests that prove it with
aiokafka's clients alone."""
