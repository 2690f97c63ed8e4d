"""The Open Inference Protocol's gRPC face (``inference.GRPCInferenceService`` on
``GRPC_PORT``): the servicer over ``oip.inference.Inference``, and the server as a part."""
