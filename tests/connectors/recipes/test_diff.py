"""Diffing two recipe versions: added, removed and changed paths, nested in mappings and lists."""

from __future__ import annotations

from connectors.recipes.diff import SpecChange, diff_specs


class TestDiffSpecs:
    def test_same_spec_has_no_changes(self) -> None:
        spec = {"fields": {"sku": "sku"}, "tests": [{"name": "a"}]}
        assert diff_specs(spec, {"fields": {"sku": "sku"}, "tests": [{"name": "a"}]}) == []

    def test_paths_of_each_kind_of_change(self) -> None:
        before = {
            "name": "v1",
            "fields": {"sku": "sku", "price": {"from": "amount"}},
            "tests": [{"name": "a"}],
        }
        after = {
            "name": "v1",
            "fields": {"sku": "code", "price": {"from": "amount", "cast": "decimal"}},
            "tests": [{"name": "a"}, {"name": "b"}],
            "filter": "record.amount > 0",
        }
        assert diff_specs(before, after) == [
            SpecChange("fields.price.cast", "added", after="decimal"),
            SpecChange("fields.sku", "changed", "sku", "code"),
            SpecChange("filter", "added", after="record.amount > 0"),
            SpecChange("tests[1]", "added", after={"name": "b"}),
        ]

    def test_removed_and_type_changes(self) -> None:
        assert diff_specs({"a": 1, "b": [1]}, {"b": {"x": 1}}) == [
            SpecChange("a", "removed", before=1),
            SpecChange("b", "changed", [1], {"x": 1}),
        ]

    def test_one_and_true_differ(self) -> None:
        assert diff_specs({"default": 1}, {"default": True}) == [SpecChange("default", "changed", 1, True)]
