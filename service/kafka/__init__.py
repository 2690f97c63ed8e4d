"""The only code that talks to Kafka: client factories, topics, the control reader, the data
loop and the event publisher."""
