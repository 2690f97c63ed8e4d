"""The control plane: control-topic records (model descriptors, retirements, routes) decoded
at the edge, their artifacts fetched and loaded off the hot path, and the result applied to
the registry with one event per outcome. Nothing here scores a record."""
