"""``MODELSERVE_WORKERS=N``: N scoring processes under one small supervisor that restarts a
worker that dies and answers the container's one HTTP port for all of them. The one gRPC port
it leaves to the workers: each binds it (SO_REUSEPORT) and the kernel spreads connections."""
