"""The Open Inference Protocol (KServe V2) once for every transport: its messages, tensor data
in JSON and binary, a model's metadata and a request's tensors bound to it, requests batched
per model, and ``Inference``, which answers them through the engine's one core call. REST
(``http/oip_routes``), gRPC (``grpc/``) and Kafka (``kafka/``) only translate their wire forms."""
