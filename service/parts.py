"""The one shape of every long-running part of the service (HTTP server, Kafka connection,
control reader, data plane, broker watchdog; a learner or a stats publisher next). The
composition root (server.py) starts the parts in order, runs each as an owned task, and stops
them in reverse order — which is the order that loses nothing — so adding a part is one line
in its list. Stopping is two steps: ``stop`` finishes what is in flight and lets ``run``
return; then, once the root has ended the run task, ``close`` releases the clients (never
under a running loop)."""

from __future__ import annotations

from typing import Protocol


class Part(Protocol):
    @property
    def name(self) -> str:
        """Names the part's task, in logs and in liveness."""
        ...

    async def start(self) -> None:
        """Until the part can run. May raise KafkaError or OSError while the broker is not
        reachable: the root retries it."""
        ...

    async def run(self) -> None:
        """Until stopped (then it returns) or failed (then it raises)."""
        ...

    async def stop(self) -> None:
        """Finish what is in flight and let ``run`` return."""
        ...

    async def close(self) -> None:
        """Release what the part holds, after its run has ended. Safe on a part that never
        started or whose run failed."""
        ...
