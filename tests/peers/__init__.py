"""Peers: other people's Open Inference Protocol software, each in its own virtual
environment under ``.peers/`` (``make peers``; peers/README.md), for holding modelserve
against. ``from tests.peers import peer_python, serving_mlserver, ...``."""

from tests.peers.envs import peer_python, peers_dir
from tests.peers.mlserver_peer import (
    MODEL_HEADER,
    PROBE_KEY_PREFIX,
    KafkaTopics,
    MLServerPeer,
    serving_mlserver,
)
from tests.peers.wine_model import WineModel, train_wine_model

__all__ = [
    "MODEL_HEADER",
    "PROBE_KEY_PREFIX",
    "KafkaTopics",
    "MLServerPeer",
    "WineModel",
    "peer_python",
    "peers_dir",
    "serving_mlserver",
    "train_wine_model",
]
