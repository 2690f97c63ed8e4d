"""Every Kafka client is made in service/kafka/ (so its connection options, and the security
settings to come, are said in one place: kafka/clients.connection_options), and the learner
reaches Kafka only through it. A scan of the source: a module outside service/kafka/ that
imports an aiokafka client class, or names one, fails it."""

from __future__ import annotations

import ast
from pathlib import Path

import service

SERVICE = Path(service.__file__).parent
CLIENT_CLASSES = {
    "AIOKafkaAdminClient",
    "AIOKafkaClient",
    "AIOKafkaConsumer",
    "AIOKafkaProducer",
    "ConsumerRebalanceListener",
}
CLIENT_MODULES = ("aiokafka.admin", "aiokafka.client", "aiokafka.consumer", "aiokafka.producer")


def modules_outside_kafka() -> list[Path]:
    kafka = SERVICE / "kafka"
    return [
        path
        for path in sorted(SERVICE.rglob("*.py"))
        if kafka not in path.parents and "proto" not in path.relative_to(SERVICE).parts
    ]


def client_uses(tree: ast.AST) -> list[str]:
    """What in ``tree`` imports or names an aiokafka client, each as ``line: what``."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiokafka"):
            module = node.module or ""
            names = {alias.name for alias in node.names}
            if module.startswith(CLIENT_MODULES) or names & CLIENT_CLASSES:
                found.append(f"{node.lineno}: from {module} import {', '.join(sorted(names))}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(CLIENT_MODULES):
                    found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in CLIENT_CLASSES:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in CLIENT_CLASSES:
            found.append(f"{node.lineno}: {node.id}")
    return found


def aiokafka_imports(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiokafka"))
        or (isinstance(node, ast.Import) and any(a.name.startswith("aiokafka") for a in node.names))
    ]


def test_no_module_outside_service_kafka_makes_a_kafka_client() -> None:
    offenders = {
        str(path.relative_to(SERVICE)): uses
        for path in modules_outside_kafka()
        if (uses := client_uses(ast.parse(path.read_text(), str(path))))
    }
    assert offenders == {}


def test_learning_imports_nothing_of_aiokafka() -> None:
    offenders = {
        str(path.relative_to(SERVICE)): lines
        for path in sorted((SERVICE / "learning").rglob("*.py"))
        if (lines := aiokafka_imports(ast.parse(path.read_text(), str(path))))
    }
    assert offenders == {}


def test_the_scan_finds_a_client_made_or_imported() -> None:
    """The scan itself: each way of reaching a client class is caught."""
    for source in (
        "from aiokafka import AIOKafkaConsumer",
        "from aiokafka.admin import NewTopic",
        "import aiokafka.producer",
        "import aiokafka\naiokafka.AIOKafkaProducer(bootstrap_servers='x')",
        "from aiokafka import ConsumerRebalanceListener as Listener",
    ):
        assert client_uses(ast.parse(source)), source
    assert not client_uses(ast.parse("from aiokafka.errors import KafkaError"))
    assert aiokafka_imports(ast.parse("from aiokafka.errors import KafkaError")) == [1]
