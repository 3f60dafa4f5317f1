"""Who may import whom: the layers of docs/architecture.md, enforced on the import graph."""

from __future__ import annotations

from ads_platform_tests.unit.test_import_graph import import_graph, module_files

#: Lowest first.  A module may import its own layer and the layers below it, never above.
LAYERS: list[tuple[str, set[str]]] = [
    ("vocabulary", {"insights_fields", "days"}),
    ("declarations", {"settings", "schemas", "atomic", "datasets"}),
    ("sources", {"meta", "fx"}),
    ("rows and files", {"frames", "lake", "landing_urls", "gc_pause"}),
    ("pulls", {"ingestion"}),
    ("marts files", {"warehouse", "sql", "dbt_with_parent"}),
    (
        "dagster plumbing",
        {
            "resources",
            "partitions",
            "jobs",
            "day_grid",
            "dbt_output",
            "run_errors",
            "instance_storage",
            "postgres_storage",
            "run_launcher",
            "interrupts",
        },
    ),
    ("assets", {"assets"}),
    ("automation", {"automation"}),
    ("domains", {"defs"}),
    ("definitions", {"definitions"}),
    (
        "applications",
        {
            "demo",
            "doctor",
            "dashboard",
            "status",
            "backfill",
            "backfill_accounts",
            "launching",
            "onboarding",
            "devserver",
            "cli",
        },
    ),
]
#: The sandbox is the Graph API's stand-in: it imports nothing of the platform.
STANDALONE = {"sandbox"}
#: ...except Meta's vocabulary (the names Meta accepts), which itself imports nothing.
SHARED_WITH_SANDBOX = {"insights_fields"}
#: Known exceptions, each a debt with its reason (see docs/architecture.md).
ALLOWED = {
    # token health evidence reads the lake through automation's lake reader; the reader
    # belongs below both (a lake-reading module) and has not moved yet.
    ("ads_platform.ingestion.token_health", "ads_platform.automation.lakeview"),
    ("ads_platform.ingestion.token_health", "ads_platform.automation"),
}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(module: str) -> int:
    part = _part(module)
    for rank, (_, members) in enumerate(LAYERS):
        if part in members:
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and the doc)")


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        if module == "ads_platform":
            continue
        for target in sorted(targets):
            if target == "ads_platform" or (module, target) in ALLOWED:
                continue
            if _part(module) in SHARED_WITH_SANDBOX:
                found.append(f"{module} -> {target} (the vocabulary imports nothing)")
                continue
            if _part(module) in STANDALONE and _part(target) in SHARED_WITH_SANDBOX:
                continue
            if _part(module) in STANDALONE or _part(target) in STANDALONE:
                if _part(module) != _part(target) and _part(module) not in {"demo", "cli"}:
                    found.append(f"{module} -> {target} (the sandbox stands alone)")
                continue
            if _layer(target) > _layer(module):
                found.append(f"{module} -> {target}")
    return found


def test_every_module_imports_only_its_own_layer_and_the_layers_below() -> None:
    assert violations(import_graph(module_files())) == []


def test_an_import_upwards_is_a_violation() -> None:
    graph = import_graph(module_files())
    graph["ads_platform.lake"] = {*graph["ads_platform.lake"], "ads_platform.assets.insights"}
    assert violations(graph) == ["ads_platform.lake -> ads_platform.assets.insights"]


def test_the_sandbox_may_read_metas_vocabulary_but_the_vocabulary_imports_nothing() -> None:
    graph = import_graph(module_files())
    assert "ads_platform.insights_fields" in graph["ads_platform.sandbox.vocabulary"]
    graph["ads_platform.insights_fields"] = {"ads_platform.settings"}
    graph["ads_platform.sandbox.rows"] = {
        *graph["ads_platform.sandbox.rows"],
        "ads_platform.frames",
    }
    assert violations(graph) == [
        "ads_platform.insights_fields -> ads_platform.settings (the vocabulary imports nothing)",
        "ads_platform.sandbox.rows -> ads_platform.frames (the sandbox stands alone)",
    ]
