"""The queryable state, typed: what ``/models``, ``/state/{dataType}``, ``/stats``, ``/routes``,
``/cluster``, ``/timeline`` and ``/health/ready`` answer and a stats snapshot carries, read
once from the registry and the counters, and the merges of several processes' figures (a
container's workers, a cluster's replicas). It sits above routing and the metrics and below
the edges that encode it (http, cluster, supervisor), so that every edge shows the same
documents."""
