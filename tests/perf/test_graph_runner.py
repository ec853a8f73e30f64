"""The model's graphs run in dependency order (bot/graph_runner.py) give what dask's runner gives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

from bot import graph_runner
from tests.perf.test_rule_lookup import conversations, predictions
from tests.perf.test_tf_predict import TEXTS


@pytest.fixture
def agent(parser: Any):  # type: ignore[no-untyped-def]
    installed = DaskGraphRunner.__dict__["run"]
    graph_runner.uninstall()
    yield parser._agent
    DaskGraphRunner.run = installed  # type: ignore[method-assign]


def _parses(agent: Any) -> list[Any]:
    async def parse_all() -> list[Any]:
        return [await agent.parse_message(text) for text in TEXTS]

    return asyncio.run(parse_all())


def test_parses_and_every_prediction_on_real_conversations_are_dasks(agent):
    stories = conversations(agent.domain)
    expected_parses = _parses(agent)
    expected = {name: predictions(agent, events) for name, events in stories}
    graph_runner.install()
    assert DaskGraphRunner.run is graph_runner._run
    assert _parses(agent) == expected_parses
    for name, events in stories:
        assert predictions(agent, events) == expected[name], name
    assert agent.processor.graph_runner.__dict__["_ordered_plans"]  # the order was worked out and kept


def test_an_input_named_like_a_node_is_refused_as_rasa_refuses_it(agent):
    runner = agent.processor.graph_runner
    node = next(iter(runner._graph_schema.nodes))
    for run in (graph_runner._dask_run, graph_runner._run):
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            run(runner, inputs={"__message__": node}, targets=[node])
