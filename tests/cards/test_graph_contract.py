"""One contract, every reachable backend: FalkorDB always; Neo4j when NEO4J_TEST_URL is set."""
import os
import uuid

import pytest
from django.conf import settings

from cards import analytics, projection
from cards.graph import SCHEMA, GraphQueryError, graph_backend


def _backends():
    yield pytest.param(settings.GRAPH_URL, id="falkordb")
    if os.environ.get("NEO4J_TEST_URL"):
        yield pytest.param(os.environ["NEO4J_TEST_URL"], id="neo4j")


@pytest.fixture(params=list(_backends()))
def graph(request):
    backend = graph_backend(request.param, name=f"contract_{uuid.uuid4().hex[:8]}")
    backend.drop_all()
    backend.ensure_schema(SCHEMA)
    yield backend
    backend.drop_all()
    if hasattr(backend, "delete_graph"):
        backend.delete_graph()
    backend.close()


def test_health_reports_ok(graph):
    assert graph.health() == {"ok": True, "backend": graph.kind}


def test_create_and_read_back_with_parameters(graph):
    graph.run("CREATE (:Person {key: $key, nickname: $nickname})", {"key": "u:1", "nickname": "小红"})
    assert graph.run("MATCH (p:Person {key: $key}) RETURN p.nickname AS nickname", {"key": "u:1"}) == [
        {"nickname": "小红"}]
    rows = graph.run("MATCH (p:Person {key: 'u:1'}) RETURN p")
    assert rows == [{"p": {"key": "u:1", "nickname": "小红"}}]  # nodes come back as plain property dicts


def test_merge_is_idempotent_and_the_unique_keys_hold(graph):
    for _ in range(3):
        graph.run("MERGE (p:Person {key: $key}) ON CREATE SET p.created = true", {"key": "v:device-7"})
        graph.run("MERGE (c:Card {id: $id})", {"id": 7})
    assert graph.run("MATCH (p:Person {key: 'v:device-7'}) RETURN count(p) AS n") == [{"n": 1}]
    with pytest.raises(GraphQueryError):
        graph.run("CREATE (:Person {key: 'v:device-7'})")
    with pytest.raises(GraphQueryError):
        graph.run("CREATE (:Card {id: 7})")
    graph.ensure_schema(SCHEMA)  # a second schema setup changes nothing and does not fail


def test_every_projection_and_analytics_statement_starts_from_an_index(graph):
    """A planner that scans every Person (or every node) for each row turns a batch into minutes on a real graph:
    each statement must find its starting nodes or relationships by an index (FalkorDB shows its plan)."""
    if not hasattr(graph, "plan"):
        pytest.skip("plans are checked on FalkorDB")
    graph.run("MERGE (:Person {key: 'u:1'})-[:REFERRED {card: 1}]->(:Person {key: 'v:a'})")
    params = {"rows": [], "keys": [], "card": 1, "root": "u:1", "limit": 5, "stamp": "x", "visitor": "v:a",
              "lead": 1, "buyer": "v:a", "order": 1, "cards": [1]}
    statements = {name: text for module in (projection, analytics) for name, text in vars(module).items()
                  if name.isupper() and isinstance(text, str) and ("MATCH" in text or "MERGE" in text)}
    assert len(statements) >= 15
    for name, text in statements.items():
        plan = graph.plan(text.format(depth=3, hops=50) if "{depth}" in text or "{hops}" in text else text, params)
        assert "Label Scan" not in plan and "All Node Scan" not in plan, (name, plan)


def test_list_of_maps_parameter_builds_a_share_chain(graph):
    users = [{"id": n, "nickname": f"用户{n}"} for n in range(1, 6)]
    shares = [{"from": n, "to": n + 1, "share": f"s{n}"} for n in range(1, 5)]
    created = graph.run("UNWIND $users AS row MERGE (u:User {id: row.id}) SET u.nickname = row.nickname "
                        "RETURN count(u) AS n", {"users": users})
    assert created == [{"n": 5}]
    graph.run("UNWIND $shares AS row MATCH (a:User {id: row.from}), (b:User {id: row.to}) "
              "MERGE (a)-[r:SHARED_TO {share: row.share}]->(b)", {"shares": shares})
    assert graph.run("MATCH ()-[r:SHARED_TO]->() RETURN count(r) AS n") == [{"n": 4}]


def test_three_hop_variable_length_path(graph):
    graph.run("UNWIND $ids AS id MERGE (:User {id: id})", {"ids": [1, 2, 3, 4, 5]})
    graph.run("UNWIND $edges AS e MATCH (a:User {id: e[0]}), (b:User {id: e[1]}) MERGE (a)-[:SHARED_TO]->(b)",
              {"edges": [[1, 2], [2, 3], [3, 4], [4, 5], [1, 3]]})
    rows = graph.run(
        "MATCH p = (root:User {id: $root})-[:SHARED_TO*1..3]->(reached:User) "
        "RETURN reached.id AS id, min(length(p)) AS hops ORDER BY id",
        {"root": 1},
    )
    assert rows == [{"id": 2, "hops": 1}, {"id": 3, "hops": 1}, {"id": 4, "hops": 2}, {"id": 5, "hops": 3}]
    chains = graph.run(
        "MATCH p = (:User {id: 1})-[:SHARED_TO*3]->(:User {id: 5}) RETURN [n IN nodes(p) | n.id] AS chain"
    )
    assert chains == [{"chain": [1, 3, 4, 5]}]  # exactly three hops: 1->2->3->4->5 has four


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="not supported"):
        graph_backend("mysql://localhost/x")
