"""Queries generated from the models: types, lists (filters, order, search, pages), by key."""

from __future__ import annotations

from typing import Any

POEMS = """
query Poems($first: Int, $after: String, $order: String, $search: String, $filter: PoemFilter) {
  poems(first: $first, after: $after, order: $order, search: $search, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id title price } }
  }
}
"""


def _titles(answer: Any) -> list[str]:
    return [edge["node"]["title"] for edge in answer["data"]["poems"]["edges"]]


def test_the_schema_shows_what_the_rest_api_shows(catalogue: Any) -> None:
    sdl = catalogue().gql.sdl()
    assert "type Poem {" in sdl
    poem = sdl.split("type Poem {")[1].split("}")[0]
    assert "title: String!" in poem
    assert "anthologyId: Int!" in poem
    assert "anthology: Anthology" in poem  # a relation, nested
    assert "motifs: [Motif!]!" in poem
    assert "secret" not in sdl  # sensitive columns never appear, not even in inputs
    assert "poems(first: Int" in sdl and "poem(id: Int!): Poem" in sdl
    assert "input PoemFilter" in sdl and "price__gte: Int" in sdl
    assert '"""A collection of poems."""' in sdl  # the model's docstring describes its type


def test_lists_filter_order_search_and_page_like_rest(catalogue: Any) -> None:
    api = catalogue()
    answer = api.query(POEMS, {"first": 5, "order": "-price", "filter": {"price__lt": 30}})
    page = answer["data"]["poems"]
    assert page["totalCount"] == 30
    assert _titles(answer) == ["poem 29", "poem 28", "poem 27", "poem 26", "poem 25"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False

    after = page["pageInfo"]["endCursor"]
    answer = api.query(
        POEMS, {"first": 5, "order": "-price", "filter": {"price__lt": 30}, "after": after}
    )
    assert _titles(answer) == ["poem 24", "poem 23", "poem 22", "poem 21", "poem 20"]
    assert answer["data"]["poems"]["pageInfo"]["hasPreviousPage"] is True

    answer = api.query(POEMS, {"search": "OEM 1", "order": "title"})
    assert _titles(answer) == [f"poem {i}" for i in range(10, 20)]
    answer = api.query(POEMS, {"filter": {"price__in": [3, 5], "title__startswith": "poem"}})
    assert _titles(answer) == ["poem 03", "poem 05"]


def test_bad_list_arguments_are_clear_errors(catalogue: Any) -> None:
    api = catalogue()
    answer = api.query(POEMS, {"order": "secret_note"})
    error = answer["errors"][0]
    assert "cannot order by 'secret_note'" in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    answer = api.query(POEMS, {"first": 1000})
    assert "first must be between 1 and 100" in answer["errors"][0]["message"]
    answer = api.query(POEMS, {"after": "not-a-cursor"})
    assert "invalid cursor" in answer["errors"][0]["message"]
    answer = api.query(POEMS, {"filter": {"price": 2**40}})  # not an Int: GraphQL says so
    assert answer["errors"] and answer.get("data") is None


def test_by_key(catalogue: Any) -> None:
    api = catalogue()
    answer = api.query("{ poem(id: 2) { title anthology { name } motifs { text } } }")
    assert answer == {
        "data": {
            "poem": {
                "title": "poem 01",
                "anthology": {"name": "novel"},
                "motifs": [{"text": "motif1"}, {"text": "motif2"}],
            }
        }
    }
    assert api.query("{ poem(id: 999) { title } }") == {"data": {"poem": None}}


def test_nested_lists_cost_a_constant_number_of_statements(catalogue: Any) -> None:
    api = catalogue()
    nested = """query($first: Int) { poems(first: $first) { edges { node {
        title anthology { name poems { id } } motifs { text } } } } }"""
    counts = {}
    for first in (5, 50):
        api.counter.reset()
        answer = api.query(nested, {"first": first})
        assert len(answer["data"]["poems"]["edges"]) == first
        counts[first] = api.counter.count
    # the page, its COUNT, anthologies, the anthologies' poems, motifs: not 1 + 50 + 50 + 50
    assert counts[5] <= counts[50] <= 5, api.counter.statements
    edge = answer["data"]["poems"]["edges"][4]["node"]
    assert edge["anthology"]["name"] == "novel"
    assert len(edge["anthology"]["poems"]) == 20
    assert [motif["text"] for motif in edge["motifs"]] == ["motif0", "motif1"]


def test_queries_by_get_but_never_mutations(catalogue: Any) -> None:
    api = catalogue()
    response = api.client.get("/graphql", params={"query": "{ poem(id: 1) { title } }"})
    assert response.json() == {"data": {"poem": {"title": "poem 00"}}}
    mutation = "mutation { deletePoem(id: 1) }"
    response = api.client.get("/graphql", params={"query": mutation})
    assert response.status_code == 400
    assert api.query("{ poem(id: 1) { title } }")["data"]["poem"] is not None


def test_sibling_fields_share_the_session_one_statement_at_a_time(catalogue: Any) -> None:
    # GraphQL resolves these concurrently; the session and its connection cannot be.
    api = catalogue()
    answer = api.query(
        """{ poems(first: 20) { totalCount edges { node { anthology { name } motifs { text } } } }
             anthologies { totalCount edges { node { poems { id } } } }
             motifs { totalCount }
             one: poem(id: 1) { title } two: poem(id: 2) { title } }"""
    )
    assert "errors" not in answer, answer
    data = answer["data"]
    assert (data["poems"]["totalCount"], data["anthologies"]["totalCount"]) == (60, 3)
    assert data["motifs"]["totalCount"] == 4
    assert (data["one"]["title"], data["two"]["title"]) == ("poem 00", "poem 01")


def test_a_page_without_total_count_runs_no_count(catalogue: Any) -> None:
    api = catalogue()
    query = """query($after: String) { poems(first: 30, after: $after) {
        pageInfo { hasNextPage endCursor } edges { node { id } } } }"""
    answer = api.query(query)
    assert api.counter.count == 1, api.counter.statements
    page = answer["data"]["poems"]
    assert page["pageInfo"]["hasNextPage"] is True and len(page["edges"]) == 30
    page = api.query(query, {"after": page["pageInfo"]["endCursor"]})["data"]["poems"]
    assert page["pageInfo"]["hasNextPage"] is False and len(page["edges"]) == 30
    assert page["edges"][-1]["node"]["id"] == 60
