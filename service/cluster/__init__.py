"""One view of the whole deployment: each process publishes its stats snapshot to a compacted
topic and reads every other's back, so any replica answers for all of them without an RPC
layer between replicas."""
