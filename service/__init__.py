"""modelserve: Kafka-native model serving — models as data, micro-batched scoring,
queryable state."""

__version__ = "0.1.0"
