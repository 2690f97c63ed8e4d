"""The data plane without Kafka: records decoded and grouped by dataType, handed to the
dataType's route, and turned into exactly one outcome each (a prediction or a dead letter).
It finds routes through serving.route.RouteTable, never through routing/ itself."""
