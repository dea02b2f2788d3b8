"""No import cycles between the modules of bot/, service/, storage/ and engine/.

Imports inside functions count (they hide a cycle, they do not break it); imports under
``if TYPE_CHECKING:`` do not (they never run). A cycle is a strongly connected component of
the module graph that grimp (import-linter's graph) builds; the message names one chain of
each, e.g. ``bot.discord.views -> bot.discord.replies -> bot.discord.views``.
"""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp")

PACKAGES = ("bot", "service", "storage", "engine")


def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    first, *rest = component
    for other in rest:
        there = graph.find_shortest_chain(importer=first, imported=other)
        back = graph.find_shortest_chain(importer=other, imported=first)
        if there and back:
            return " -> ".join([*there, *back[1:]])
    return ", ".join(component)


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = [describe(graph, component) for component in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_a_cycle_is_found() -> None:
    graph = import_graph()
    graph.add_import(importer="engine.weights", imported="engine.chat")  # chat imports weights
    (component,) = cycles(graph)
    assert {"engine.weights", "engine.chat"} <= set(component)
    assert describe(graph, component).startswith("engine.")
