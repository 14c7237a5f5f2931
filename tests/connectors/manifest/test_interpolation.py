"""Interpolation: a sandbox that knows only the variables a place declares and refuses private names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.manifest.interpolation import VARIABLES, InterpolationError, interpolate

STREAM = frozenset({"config", "secrets", "now", "cursor", "page"})


class TestAtLoadTime:
    def test_undeclared_variable_is_refused_with_what_is_available(self) -> None:
        with pytest.raises(InterpolationError) as caught:
            interpolate("/items/{{ record.sku }}", "streams.items.path", STREAM)
        assert caught.value.problems == [
            (
                "streams.items.path",
                "unknown variable 'record'; available here: config, cursor, now, page, secrets",
            )
        ]

    def test_jinja_globals_are_not_available(self) -> None:
        for source in ("{{ range(10) | list }}", "{{ lipsum() }}", "{{ dict(a=1) }}", "{{ cycler }}"):
            with pytest.raises(InterpolationError, match="unknown variable"):
                interpolate(source, "x", VARIABLES)

    @pytest.mark.parametrize(
        "source",
        [
            "{{ config.__class__ }}",
            "{{ record.sku.__class__.__mro__ }}",
            "{{ config['__init__'] }}",
            "{{ config._secret }}",
        ],
    )
    def test_private_and_dunder_access_is_refused(self, source: str) -> None:
        with pytest.raises(InterpolationError, match="attributes starting with '_' are not allowed"):
            interpolate(source, "x", VARIABLES)

    def test_syntax_errors_and_unknown_filters(self) -> None:
        with pytest.raises(InterpolationError, match="template error"):
            interpolate("{{ config.base_url ", "requester.url_base", VARIABLES)
        with pytest.raises(InterpolationError, match="No filter named 'shout'"):
            interpolate("{{ config.name | shout }}", "x", VARIABLES)


class TestAtRenderTime:
    def test_missing_config_value_names_the_place(self) -> None:
        template = interpolate("{{ config.region }}", "streams.items.params.region", VARIABLES)
        with pytest.raises(InterpolationError) as caught:
            template.render({"config": {}})
        path, reason = caught.value.problems[0]
        assert path == "streams.items.params.region"
        assert "has no attribute 'region'" in reason

    def test_dynamic_dunder_access_is_blocked_by_the_sandbox(self) -> None:
        template = interpolate("{{ record[config.field] }}", "x", VARIABLES)
        with pytest.raises(InterpolationError, match="unsafe"):
            template.render({"record": {"sku": "A"}, "config": {"field": "__class__"}})

    def test_a_lone_expression_keeps_its_type(self) -> None:
        assert interpolate("{{ record.qty * 2 }}", "x", VARIABLES).render({"record": {"qty": 3}}) == 6
        assert interpolate("{{ record }}", "x", VARIABLES).render({"record": {"a": [1]}}) == {"a": [1]}
        assert interpolate("n={{ record.qty }}", "x", VARIABLES).render({"record": {"qty": 3}}) == "n=3"

    def test_record_fields_win_over_dict_methods(self) -> None:
        template = interpolate("{{ record.items }}", "x", VARIABLES)
        assert template.render({"record": {"items": [1, 2]}}) == [1, 2]

    def test_default_filter_and_path_segment(self) -> None:
        template = interpolate("{{ record.list | default(config.list) }}", "x", VARIABLES)
        assert template.render({"record": {}, "config": {"list": "retail"}}) == "retail"
        segment = interpolate("/prices/{{ record.sku | path_segment }}", "x", VARIABLES)
        assert segment.render({"record": {"sku": "A/B 1"}}) == "/prices/A%2FB%201"

    def test_now_is_a_datetime(self) -> None:
        template = interpolate("{{ now.year }}-{{ now.isoformat() }}", "x", VARIABLES)
        moment = datetime(2024, 5, 1, tzinfo=UTC)
        assert template.render({"now": moment}) == "2024-2024-05-01T00:00:00+00:00"
