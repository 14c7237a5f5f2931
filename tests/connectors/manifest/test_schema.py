"""Manifest validation: every problem is reported with the path where it is, before any request."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from connectors.manifest import ManifestError, load_manifest, manifest_problems
from tests.connectors.manifest.conftest import EXAMPLE_MANIFEST


@pytest.fixture
def example() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE_MANIFEST.read_text())
    return copy.deepcopy(loaded)


def problems_of(manifest: dict[str, Any] | str) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(manifest)
    return caught.value.problems


class TestValidManifest:
    def test_example_loads(self, example: dict[str, Any]) -> None:
        assert manifest_problems(example) == []
        manifest = load_manifest(EXAMPLE_MANIFEST.read_text())
        assert manifest.key == "example-erp"
        assert {d.value for d in manifest.streams} == {"items", "prices", "inventory"}


class TestSchemaProblems:
    def test_missing_top_level_fields_are_named(self) -> None:
        found = dict(problems_of({"version": 1, "key": "x-1", "name": "X"}))
        assert set(found) >= {"kind", "config_schema", "requester", "check"}
        assert found["kind"] == "is required"

    def test_misspelled_paginator_field_points_at_the_paginator(self, example: dict[str, Any]) -> None:
        example["streams"]["items"]["paginator"]["page_sise"] = 3
        found = problems_of(example)
        assert found == [
            ("streams.items.paginator", "Additional properties are not allowed ('page_sise' was unexpected)")
        ]

    def test_unknown_paginator_type(self, example: dict[str, Any]) -> None:
        example["streams"]["items"]["paginator"] = {"type": "Sometimes"}
        path, reason = problems_of(example)[0]
        assert path == "streams.items.paginator.type"
        assert "'Sometimes' is not one of" in reason

    def test_auth_missing_its_key(self, example: dict[str, Any]) -> None:
        del example["auth"]["key"]
        assert problems_of(example) == [("auth.key", "is required")]

    def test_writer_needs_results_in_batch_mode(self, example: dict[str, Any]) -> None:
        del example["writers"]["inventory"]["results"]
        assert ("writers.inventory.results", "is required") in problems_of(example)

    def test_unknown_domain_and_wrong_kind(self, example: dict[str, Any]) -> None:
        example["kind"] = "mainframe"
        example["streams"]["gizmos"] = example["streams"]["items"]
        paths = [path for path, _ in problems_of(example)]
        assert "kind" in paths
        assert "streams" in paths

    def test_bad_selector_path(self, example: dict[str, Any]) -> None:
        example["streams"]["items"]["selector"]["path"] = "data..x"
        assert [p for p, _ in problems_of(example)] == ["streams.items.selector.path"]

    def test_not_yaml_mapping(self) -> None:
        assert problems_of("- just\n- a list\n") == [("(manifest)", "a manifest is a YAML mapping")]
        assert problems_of("key: [unclosed\n")[0][0] == "(manifest)"


class TestSemanticProblems:
    def test_invalid_config_schema(self, example: dict[str, Any]) -> None:
        example["config_schema"]["properties"]["base_url"]["type"] = "url"
        path, reason = problems_of(example)[0]
        assert path == "config_schema"
        assert "invalid config schema" in reason

    def test_check_names_an_undeclared_stream(self, example: dict[str, Any]) -> None:
        example["check"] = {"stream": "orders"}
        assert problems_of(example) == [("check.stream", "no stream named 'orders'")]

    def test_secret_read_through_config(self, example: dict[str, Any]) -> None:
        example["auth"]["key"] = "{{ config.api_key }}"
        assert problems_of(example) == [
            ("auth.key", "api_key is a secret: use secrets.api_key, not config.api_key")
        ]

    def test_secrets_must_be_write_only(self, example: dict[str, Any]) -> None:
        example["requester"]["headers"]["X-Tenant"] = "{{ secrets.base_url }}"
        assert problems_of(example) == [
            ("requester.headers.X-Tenant", "secrets.base_url is not a writeOnly property of config_schema")
        ]

    def test_config_property_must_exist_in_a_closed_schema(self, example: dict[str, Any]) -> None:
        example["streams"]["items"]["params"] = {"store": "{{ config.store_id }}"}
        assert problems_of(example) == [
            ("streams.items.params.store", "config.store_id is not a property of config_schema")
        ]

    def test_every_problem_is_reported_at_once(self, example: dict[str, Any]) -> None:
        example["streams"]["items"]["path"] = "/items/{{ record.sku }}"
        example["writers"]["prices"]["path"] = "/prices/{{ page }}"
        paths = [p for p, _ in problems_of(example)]
        assert paths == ["streams.items.path", "writers.prices.path"]
