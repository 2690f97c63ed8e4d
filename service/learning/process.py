"""`modelserve learn`'s composition root: the learning loop (learning/part.py) and then its
HTTP port (learner_http.py: health, state, metrics), run by a PartRunner (parts.py) as the
service's parts are. The HTTP starts once the learner has restored its version, which its
``/state`` shows, and stops first; its ``/health`` is the runner's liveness, false once a part
has failed."""

from __future__ import annotations

from collections.abc import Callable

from service.http.server import HttpPart, make_server
from service.kafka.retry import is_transient
from service.learning.learner import LearnerCore, LearnerOptions
from service.learning.learner_http import create_learner_app
from service.learning.part import LearnerPart
from service.parts import PartRunner
from service.settings import Settings


class LearnerHttp:
    """The learner's HTTP as a part after the learner's: its app is built, over the core the
    learner restored, when it starts."""

    name = "http"

    def __init__(
        self, learner: LearnerPart, host: str, port: int, live: Callable[[], bool]
    ) -> None:
        self._learner = learner
        self._host = host
        self._port = port
        self._live = live
        self._http: HttpPart | None = None

    @property
    def port(self) -> int | None:
        return self._http.port if self._http is not None else None

    async def start(self) -> None:
        if self._http is None:
            core = self._learner.core
            assert core is not None, "the learner starts first"
            app = create_learner_app(core, self._live)
            self._http = HttpPart(make_server(app, self._host, self._port))
        await self._http.start()

    async def run(self) -> None:
        assert self._http is not None
        await self._http.run()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.stop()

    async def close(self) -> None:
        pass


class LearnerProcess:
    """The learner's parts and their runner; ``runner`` starts, waits on and stops them."""

    def __init__(self, settings: Settings, options: LearnerOptions) -> None:
        self.learner = LearnerPart(settings, options)
        self.http = LearnerHttp(
            self.learner, settings.http_host, settings.learner_http_port, self.is_live
        )
        self.runner = PartRunner(
            [self.learner, self.http],
            reaching=f"Kafka at {settings.bootstrap_servers}",
            retriable=is_transient,
        )

    def is_live(self) -> bool:
        return self.runner.is_live()

    @property
    def core(self) -> LearnerCore | None:
        return self.learner.core
