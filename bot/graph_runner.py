"""Rasa's prediction graphs run node after node in dependency order, without dask's scheduler.

Rasa 3.6 runs the model's graph twice a turn or more (parsing the message, then each action
prediction) through ``DaskGraphRunner.run``: it prunes the schema to the targets, builds a
dask task graph and hands it to ``dask.get``, a synchronous scheduler that orders and runs the
tasks one at a time. For a graph of a dozen nodes that bookkeeping, redone on every run, was
~6% of a loaded Rasa server's samples (py-spy under bench.load), about 1 ms of each turn.

Here the order is worked out once per set of targets (a depth-first walk of the pruned
schema, dependencies first) and each run calls the same ``GraphNode`` objects with the same
inputs as dask would: each node gets its parents' ``(name, output)`` pairs, an input given
to ``run`` takes the place of a node of that name, a dependency with no value is passed as
its name (``GraphNode`` reports it), and a ``RuntimeError`` becomes Rasa's ``GraphRunError``.
Runs are sequential either way, so nothing runs in parallel that did not before. Hooks are
called by the nodes themselves, unchanged. Training keeps Rasa's runner: only the Rasa
server, through the masking tracker store, installs this. Installing twice is harmless.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

_dask_run = DaskGraphRunner.run


def _plan(runner: Any, targets: tuple[str, ...]) -> tuple[tuple[str, Any, tuple[str, ...]], ...]:
    plans = runner.__dict__.setdefault("_ordered_plans", {})
    plan = plans.get(targets)
    if plan is None:
        schema = runner._graph_schema.minimal_graph_schema(list(targets))
        order: list[tuple[str, Any, tuple[str, ...]]] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in schema.nodes:
                return
            seen.add(name)
            needs = tuple(schema.nodes[name].needs.values())
            for dependency in needs:
                visit(dependency)
            order.append((name, runner._instantiated_nodes[name], needs))

        for target in targets:
            visit(target)
        plan = plans[targets] = tuple(order)
    return plan


def _run(self: Any, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict[str, Any]:
    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    plan = _plan(self, run_targets)
    results: dict[str, Any] = {}
    for input_name, input_value in (inputs or {}).items():
        if isinstance(input_value, str) and (input_value in results or any(input_value == n for n, _, _ in plan)):
            raise GraphRunError(
                f"Input value '{input_value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
        results[input_name] = (input_name, input_value)
    try:
        for name, node, needs in plan:
            if name not in results:
                results[name] = node(*(results.get(dependency, dependency) for dependency in needs))
        return dict(results.get(target, target) for target in run_targets)
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


def install() -> None:
    DaskGraphRunner.run = _run  # type: ignore[method-assign]


def uninstall() -> None:
    DaskGraphRunner.run = _dask_run  # type: ignore[method-assign]
