"""A model on another server (REMOTE): the runtime, its calls over the Open Inference
Protocol (REST and gRPC) and the endpoints they go to. Above oip/ and control/, whose codecs
and allow-list it uses; the runtime catalog names it by string."""
