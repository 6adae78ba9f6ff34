"""The Flow DAG: flowserve.config.graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowserve.config.graph import GATEWAY, FlowGraph, build_graph, graph_from_mapping
from flowserve.config.spec import flow_from_dict, load_flow
from flowserve.errors import ConfigError

DATA = Path(__file__).resolve().parents[2] / "data"


def flow(*executors: dict[str, object]) -> FlowGraph:
    return build_graph(flow_from_dict({"executors": list(executors)}))


def test_seed_flow_is_a_chain() -> None:
    graph = build_graph(load_flow(DATA / "flow.yml"))
    assert graph.needs == {"slow_executor": (GATEWAY,), "bulky_executor": ("slow_executor",)}
    assert graph.order == ("slow_executor", "bulky_executor")
    assert graph.sinks == ("bulky_executor",)
    assert graph.successors(GATEWAY) == ("slow_executor",)
    assert graph.successors("slow_executor") == ("bulky_executor",)
    assert graph.successors("bulky_executor") == ()


def test_empty_flow_is_allowed() -> None:
    graph = flow()
    assert graph.needs == {} and graph.order == () and graph.sinks == ()
    assert graph.successors(GATEWAY) == ()
    assert FlowGraph.from_json(graph.to_json()) == graph


def test_explicit_gateway_need_starts_a_parallel_branch() -> None:
    graph = flow({"name": "a"}, {"name": "b", "needs": "gateway"}, {"name": "c"})
    assert graph.needs == {"a": (GATEWAY,), "b": (GATEWAY,), "c": ("b",)}
    assert graph.successors(GATEWAY) == ("a", "b")
    assert graph.sinks == ("a", "c")


def test_fan_out_and_fan_in() -> None:
    graph = flow(
        {"name": "split"},
        {"name": "left", "needs": "split"},
        {"name": "right", "needs": ["split"]},
        {"name": "merge", "needs": ["left", "right"]},
    )
    assert graph.successors("split") == ("left", "right")
    assert graph.predecessors("merge") == ("left", "right")
    assert graph.predecessors(GATEWAY) == ()
    assert graph.order == ("split", "left", "right", "merge")
    assert graph.sinks == ("merge",)


def test_order_is_topological_and_stable_with_forward_needs() -> None:
    graph = graph_from_mapping({"late": ["early"], "other": ["gateway"], "early": ["gateway"]})
    # 'late' is declared first but must wait for 'early'; 'other' keeps its place
    assert graph.order == ("other", "early", "late")
    assert graph.executors == ("late", "other", "early")


def test_repeated_need_is_one_edge() -> None:
    graph = graph_from_mapping({"a": ["gateway", "gateway"], "b": "a"})
    assert graph.needs == {"a": (GATEWAY,), "b": ("a",)}


def test_unknown_successor_node() -> None:
    with pytest.raises(KeyError, match="no node 'x'"):
        flow({"name": "a"}).successors("x")


def test_unknown_need_names_executor_and_file(tmp_path: Path) -> None:
    spec = flow_from_dict({"executors": [{"name": "a"}, {"name": "b", "needs": ["a", "ghost"]}]},
                          source=tmp_path / "flow.yml")
    with pytest.raises(ConfigError) as info:
        build_graph(spec)
    assert str(info.value) == ("invalid Flow graph: flow.yml: executor 'b': needs unknown "
                               "executor 'ghost' (known: gateway, a)")


def test_self_need() -> None:
    with pytest.raises(ConfigError, match="executor 'a': needs itself"):
        flow({"name": "a", "needs": "a"})


def test_empty_needs_list() -> None:
    with pytest.raises(ConfigError, match="executor 'a': needs is empty; use needs: gateway"):
        flow({"name": "a", "needs": []})


def test_cycle_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        flow({"name": "start"}, {"name": "a", "needs": ["start", "c"]}, {"name": "b", "needs": "a"},
             {"name": "c", "needs": "b"})
    assert str(info.value) == ("invalid Flow graph: executor 'a': needs form a cycle: "
                               "a -> c -> b -> a (each needs the next)")


def test_several_problems_are_listed_together() -> None:
    with pytest.raises(ConfigError) as info:
        graph_from_mapping({"a": ["a"], "b": ["nope"]})
    assert "executor 'a': needs itself; executor 'b': needs unknown executor 'nope'" \
        in str(info.value)


def test_gateway_is_not_an_executor_name() -> None:
    with pytest.raises(ConfigError, match="'gateway' is reserved"):
        graph_from_mapping({"gateway": []})


def test_json_round_trip_preserves_declaration_order() -> None:
    graph = graph_from_mapping({"z": ["gateway"], "a": ["z"], "m": ["z", "a"]})
    text = graph.to_json()
    assert text == '{"needs":{"z":["gateway"],"a":["z"],"m":["z","a"]}}'
    again = FlowGraph.from_json(text)
    assert again == graph and list(again.needs) == ["z", "a", "m"]
    assert hash(again) == hash(graph)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must look like"),
        ('{"needs": {"a": "gateway"}}', "must look like"),
        ('{"needs": {"a": ["b"]}}', "needs unknown executor 'b'"),
    ],
)
def test_from_json_validates(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        FlowGraph.from_json(text)


@st.composite
def random_dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random DAG: each node needs a non-empty subset of the gateway and earlier nodes,
    then declared in a shuffled order."""
    size = draw(st.integers(min_value=0, max_value=12))
    names = [f"e{i}" for i in range(size)]
    needs: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        candidates = [GATEWAY, *names[:i]]
        needs[name] = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4,
                                    unique=True))
    order = draw(st.permutations(names))
    return {name: needs[name] for name in order}


# no per-example deadline (nor "too slow" generation check): a loaded CI machine is slow
NO_DEADLINE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@NO_DEADLINE
@given(random_dags())
def test_random_dags(needs: dict[str, list[str]]) -> None:
    graph = graph_from_mapping(needs)
    position = {name: i for i, name in enumerate(graph.order)}
    assert sorted(graph.order) == sorted(needs)
    for name, preds in needs.items():
        for pred in preds:
            if pred != GATEWAY:
                assert position[pred] < position[name]
            assert name in graph.successors(pred)
    needed = {p for preds in needs.values() for p in preds}
    assert graph.sinks == tuple(n for n in needs if n not in needed)
    if needs:
        assert graph.sinks and graph.successors(GATEWAY)
    assert FlowGraph.from_json(graph.to_json()) == graph


@NO_DEADLINE
@given(random_dags(), st.data())
def test_adding_a_back_edge_makes_a_cycle(needs: dict[str, list[str]], data: st.DataObject) -> None:
    chains = [(a, b) for a, preds in needs.items() for b in preds if b != GATEWAY]
    if not chains:
        return
    needer, needed = data.draw(st.sampled_from(chains))
    needs[needed] = [*needs[needed], needer]  # needed now needs its own dependent
    with pytest.raises(ConfigError, match="needs form a cycle: ") as info:
        graph_from_mapping(needs)
    assert needer in str(info.value) and needed in str(info.value)
