"""dbt's artifacts as a dbt run cut short, a full disk or a hand edit leave them: exit 2, one
line saying to run dbt again, never "Internal error"."""

from __future__ import annotations

import json

import pytest
from conftest import order_lines

MODEL_ID = "model.offline_conversions.meta_capi_events"  # the model the exporter reads


def damaged(text: str):
    return lambda path: path.write_text(text)


def edited(change):
    def edit(path):
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    return edit


def truncated(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


@pytest.mark.parametrize(
    "artifact, damage, reason",
    [
        ("manifest.json", damaged(""), "empty"),
        ("manifest.json", truncated, "not valid JSON"),
        ("manifest.json", damaged("[]"), "a JSON list, not an object"),
        ("manifest.json", damaged('{"nodes": []}'), "'nodes' is missing or has the wrong type"),
        ("manifest.json", damaged("{}"), "'nodes' is missing"),
        ("manifest.json", edited(lambda d: d["nodes"].update({MODEL_ID: "model"})), "is not an object"),
        ("manifest.json", edited(lambda d: d["nodes"][MODEL_ID].pop("schema")), "has no schema and name"),
        ("manifest.json", damaged("\xff\xfe"), "not valid JSON"),
        ("run_results.json", damaged(""), "empty"),
        ("run_results.json", truncated, "not valid JSON"),
        ("run_results.json", damaged("null"), "a JSON NoneType, not an object"),
        ("run_results.json", edited(lambda d: d.pop("results")), "'results' is missing"),
        (
            "run_results.json",
            edited(lambda d: d.update(results={"a": 1})),
            "'results' is missing or has the wrong type",
        ),
        ("run_results.json", edited(lambda d: d["results"].append("x")), "'unique_id' is missing"),
        ("run_results.json", edited(lambda d: d["results"][0].update(status=None)), "'status' is missing"),
        ("run_results.json", edited(lambda d: d.pop("args")), "'args' is missing"),
        ("run_results.json", edited(lambda d: d.pop("metadata")), "'metadata' is missing"),
        ("run_results.json", edited(lambda d: d["metadata"].update(invocation_id=[])), "'invocation_id' is missing"),
        ("run_results.json", edited(lambda d: d["args"].update(which=1)), "'which' is missing or has the wrong type"),
    ],
)
def test_a_damaged_artifact_is_a_reason_to_run_dbt_again(model, meta, export_env, capsys, artifact, damage, reason):
    model.write(order_lines(1))
    damage(model.target / artifact)

    assert export_env(model) == 2

    err = capsys.readouterr().err
    assert reason in err and "run dbt again" in err and str(model.target / artifact) in err
    assert "Internal error" not in err and len(err.strip().splitlines()) == 1, err
    assert meta.requests == []
