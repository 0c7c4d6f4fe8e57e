"""dbt knows where its data goes: the exposure `meta_conversions_api` (the Meta dataset the exporter
uploads to) depends on the event models, so `dbt docs` draws the lineage from the sources to
Meta and `dbt ls --select +exposure:meta_conversions_api` selects exactly what the export needs.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from dbt_helpers import REPO_ROOT, prepare_project, run_dbt

MODELS = {
    "model.offline_conversions.stg_amperity__unified_itemized_transactions",
    "model.offline_conversions.stg_amperity__customer_360",
    "model.offline_conversions.int_customers_deduplicated",
    "model.offline_conversions.int_item_lines_filtered_to_sendable",
    "model.offline_conversions.int_item_lines_joined_to_customers",
    "model.offline_conversions.meta_offline_events",
    "model.offline_conversions.int_meta_capi_customers_hashed",
    "model.offline_conversions.int_meta_capi_lines_checked",
    "model.offline_conversions.int_meta_capi_orders",
    "model.offline_conversions.meta_capi_events",
    "model.offline_conversions.meta_capi_rejected_lines",
}
SOURCES = {
    "source.offline_conversions.amperity.unified_itemized_transactions",
    "source.offline_conversions.amperity.customer_360",
}
SAMPLE_SEEDS = {"seed.offline_conversions.unified_itemized_transactions", "seed.offline_conversions.customer_360"}
# Lookup tables the rules need: always part of what the export needs.
REFERENCE_SEEDS = {
    f"seed.offline_conversions.{path.stem}" for path in (REPO_ROOT / "seeds" / "reference").glob("*.csv")
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return prepare_project(tmp_path_factory.mktemp("dbt_exposure") / "project", datetime(2026, 11, 23, 12))


def selected(project, tmp_path, vars=None) -> tuple[dict[str, str], dict]:
    """{unique_id: resource_type} that `dbt ls --select +exposure:...` lists, and the manifest."""
    target = tmp_path / "target"
    result = run_dbt(
        [
            "ls",
            "--select",
            "+exposure:meta_conversions_api",
            "--output",
            "json",
            "--output-keys",
            "unique_id resource_type",
        ],
        project,
        tmp_path / "warehouse.duckdb",
        target,
        vars=vars,
    )
    listed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    manifest = json.loads((target / "manifest.json").read_text())
    return {item["unique_id"]: item["resource_type"] for item in listed}, manifest


def test_the_exposure_selects_every_model_source_and_test_the_export_needs(project, tmp_path):
    nodes, manifest = selected(project, tmp_path)

    exposure = manifest["exposures"]["exposure.offline_conversions.meta_conversions_api"]
    assert exposure["type"] == "application" and exposure["owner"]["name"]
    assert sorted(exposure["depends_on"]["nodes"]) == [
        "model.offline_conversions.meta_capi_events",
        "model.offline_conversions.meta_capi_rejected_lines",
    ]

    by_type = {kind: {uid for uid, node_kind in nodes.items() if node_kind == kind} for kind in set(nodes.values())}
    assert by_type["exposure"] == {"exposure.offline_conversions.meta_conversions_api"}
    assert by_type["model"] == MODELS
    assert by_type["source"] == SOURCES
    assert by_type["seed"] == SAMPLE_SEEDS | REFERENCE_SEEDS  # the sample data is the source by default
    # Everything the project tests is upstream of the export: every data and unit test is selected.
    project_tests = {uid for uid in manifest["nodes"] if uid.startswith("test.")} | set(manifest["unit_tests"])
    assert by_type["test"] | by_type["unit_test"] == project_tests
    assert set(by_type) == {"exposure", "model", "source", "seed", "test", "unit_test"}


def test_with_sources_of_their_own_the_export_needs_no_sample_seeds(project, tmp_path):
    nodes, _ = selected(project, tmp_path, vars={"source_schema": "pos"})
    assert {uid for uid, kind in nodes.items() if kind in ("model", "source", "seed")} == (
        MODELS | SOURCES | REFERENCE_SEEDS
    )
