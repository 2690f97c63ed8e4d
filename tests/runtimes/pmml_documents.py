"""PMML documents written from structures held in Python, and their answers computed from the
same structures by hand: the engines are judged against these, never against each other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
TARGET = "y"


@dataclass(frozen=True)
class Leaf:
    """``score``: the class (or, in a regression tree, the number as written). ``counts``:
    training records per class; a class absent from the leaf is omitted, as Spark exports."""

    score: str
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Split:
    field: str
    threshold: float
    low: Tree  # field <= threshold
    high: Tree  # field > threshold


Tree = Leaf | Split


@dataclass(frozen=True)
class Linear:
    intercept: float
    coefficients: Mapping[str, float]


def leaves(tree: Tree) -> list[Leaf]:
    if isinstance(tree, Leaf):
        return [tree]
    return leaves(tree.low) + leaves(tree.high)


def leaf_of(tree: Tree, row: Mapping[str, float]) -> Leaf:
    while isinstance(tree, Split):
        tree = tree.low if row[tree.field] <= tree.threshold else tree.high
    return tree


def tree_probabilities(tree: Tree, row: Mapping[str, float], classes: Sequence[str]) -> Matrix:
    """PMML: a class the leaf's ScoreDistribution omits has probability 0."""
    counts = leaf_of(tree, row).counts
    total = sum(counts.values())
    return np.array([counts.get(c, 0) / total for c in classes])


def averaged_probabilities(
    trees: Sequence[Tree], row: Mapping[str, float], classes: Sequence[str]
) -> Matrix:
    total = np.sum([tree_probabilities(t, row, classes) for t in trees], axis=0)
    return np.asarray(total / len(trees), dtype=np.float64)


def linear_value(model: Linear, row: Mapping[str, float]) -> float:
    return model.intercept + sum(c * row[f] for f, c in model.coefficients.items())


def softmax_probabilities(tables: Sequence[Linear], row: Mapping[str, float]) -> Matrix:
    scores = np.array([linear_value(t, row) for t in tables])
    exps = np.exp(scores - scores.max())
    return np.asarray(exps / exps.sum(), dtype=np.float64)


def thresholds(tree: Tree, found: dict[str, list[float]]) -> dict[str, list[float]]:
    """Every split value per field: rows exactly on a threshold test ``lessOrEqual``."""
    if isinstance(tree, Split):
        found.setdefault(tree.field, []).append(tree.threshold)
        thresholds(tree.low, found)
        thresholds(tree.high, found)
    return found


def rows_around(
    fields: Sequence[str], trees: Sequence[Tree], count: int, seed: int
) -> list[dict[str, float]]:
    """Random rows over 0..10, half of their cells moved onto or next to a split value, so
    that every branch and the boundaries are taken."""
    rng = np.random.default_rng(seed)
    splits: dict[str, list[float]] = {}
    for tree in trees:
        thresholds(tree, splits)
    rows = []
    for _ in range(count):
        row = {}
        for name in fields:
            value = float(rng.uniform(0.0, 10.0))
            if name in splits and rng.random() < 0.5:
                value = float(rng.choice(splits[name])) + float(rng.choice([0.0, -1e-9, 1e-9]))
            row[name] = value
        rows.append(row)
    return rows


# XML, shaped the way JPMML-SparkML writes Spark's trees and forests.


def document(fields: Sequence[str], target: str, model: str) -> bytes:
    inputs = "".join(
        f'<DataField name="{f}" optype="continuous" dataType="double"/>' for f in fields
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">'
        '<Header description="modelserve conformance case"/>'
        f'<DataDictionary numberOfFields="{len(fields) + 1}">{inputs}{target}</DataDictionary>'
        f"{model}</PMML>"
    ).encode()


def categorical_target(classes: Sequence[str], data_type: str) -> str:
    values = "".join(f"<Value value={quoteattr(c)}/>" for c in classes)
    return (
        f'<DataField name="{TARGET}" optype="categorical" dataType="{data_type}">'
        f"{values}</DataField>"
    )


def continuous_target() -> str:
    return f'<DataField name="{TARGET}" optype="continuous" dataType="double"/>'


def mining_schema(fields: Sequence[str]) -> str:
    inputs = "".join(f'<MiningField name="{f}"/>' for f in fields)
    return f'<MiningSchema><MiningField name="{TARGET}" usageType="target"/>{inputs}</MiningSchema>'


def classifier_output(classes: Sequence[str], data_type: str) -> str:
    probabilities = "".join(
        f'<OutputField name={quoteattr(f"probability({c})")} optype="continuous" '
        f'dataType="double" feature="probability" value={quoteattr(c)}/>'
        for c in classes
    )
    return (
        f'<Output><OutputField name="prediction" optype="categorical" dataType="{data_type}" '
        f'feature="predictedValue"/>{probabilities}</Output>'
    )


def regressor_output() -> str:
    return (
        '<Output><OutputField name="prediction" optype="continuous" dataType="double" '
        'feature="predictedValue"/></Output>'
    )


def _nodes(tree: Tree, predicate: str) -> str:
    if isinstance(tree, Leaf):
        total = sum(tree.counts.values())
        distribution = "".join(
            f'<ScoreDistribution value={quoteattr(c)} recordCount="{n}"/>'
            for c, n in tree.counts.items()
        )
        count = f' recordCount="{total}"' if tree.counts else ""
        return f"<Node score={quoteattr(tree.score)}{count}>{predicate}{distribution}</Node>"
    value = repr(tree.threshold)
    low = f'<SimplePredicate field="{tree.field}" operator="lessOrEqual" value="{value}"/>'
    high = f'<SimplePredicate field="{tree.field}" operator="greaterThan" value="{value}"/>'
    return f"<Node>{predicate}{_nodes(tree.low, low)}{_nodes(tree.high, high)}</Node>"


def tree_model(tree: Tree, fields: Sequence[str], function: str, output: str = "") -> str:
    return (
        f'<TreeModel functionName="{function}" splitCharacteristic="binarySplit" '
        'missingValueStrategy="none" noTrueChildStrategy="returnNullPrediction">'
        f"{mining_schema(fields)}{output}{_nodes(tree, '<True/>')}</TreeModel>"
    )


def averaging_forest(trees: Sequence[Tree], fields: Sequence[str], output: str) -> str:
    segments = "".join(
        f'<Segment id="{i}"><True/>{tree_model(t, fields, "classification")}</Segment>'
        for i, t in enumerate(trees, start=1)
    )
    return (
        f'<MiningModel functionName="classification">{mining_schema(fields)}{output}'
        f'<Segmentation multipleModelMethod="average">{segments}</Segmentation></MiningModel>'
    )


def _table(model: Linear, category: str | None = None) -> str:
    target = "" if category is None else f" targetCategory={quoteattr(category)}"
    predictors = "".join(
        f'<NumericPredictor name="{f}" coefficient="{c!r}"/>' for f, c in model.coefficients.items()
    )
    return (
        f'<RegressionTable intercept="{model.intercept!r}"{target}>{predictors}</RegressionTable>'
    )


def linear_regression(model: Linear, fields: Sequence[str]) -> str:
    return (
        f'<RegressionModel functionName="regression">{mining_schema(fields)}'
        f"{regressor_output()}{_table(model)}</RegressionModel>"
    )


def softmax_regression(
    tables: Sequence[Linear], classes: Sequence[str], fields: Sequence[str], data_type: str
) -> str:
    body = "".join(_table(t, c) for t, c in zip(tables, classes, strict=True))
    return (
        '<RegressionModel functionName="classification" normalizationMethod="softmax">'
        f"{mining_schema(fields)}{classifier_output(classes, data_type)}{body}</RegressionModel>"
    )
