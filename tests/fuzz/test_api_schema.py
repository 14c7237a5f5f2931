"""Schemathesis against ``/schema/openapi.json`` through the ASGI app: with a key holding every scope
(``{id}`` routes find the seeded estate) and with no key, no answer is a 5xx and every answer's status,
content type and body are the ones the document declares. Valid and invalid inputs both."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar import Litestar
from litestar.testing import AsyncTestClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.database.engine import Database
from tests.factories import World
from tests.security.estate import Estate, seed_estate

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 4
"""Per operation and generation mode: about 60 operations × 2 modes keep the run near half a minute."""
PATH_PARAMETER = re.compile(r"{(\w+)}")


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: Litestar) -> Any:
    return schemathesis.openapi.from_asgi("/schema/openapi.json", fuzzed_app).include(path_regex="^/api/v1/")


@pytest.fixture
async def estate(client: AsyncTestClient[Any], world: World, db: Database) -> Estate:
    return await seed_estate(client, db, world.tenant_a1)


def fuzz(schema: Any, headers: dict[str, str], ids: dict[str, str], examples: int) -> list[str]:
    """Run every operation in both generation modes; the failures, one line each."""
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seeded = {name: ids[name] for name in PATH_PARAMETER.findall(operation.path) if name in ids}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode, path_parameters=seeded or None))
            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: schemathesis.Case[Any]) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                call()
            except (
                Exception,
                BaseExceptionGroup,
            ) as error:  # collected: one run reports every failing operation
                failures.append(f"{operation.label} ({mode.value}): {error}")
    return failures


def test_with_every_scope(api_schema: Any, estate: Estate) -> None:
    failures = fuzz(api_schema, {"Authorization": f"Bearer {estate.key}"}, estate.ids, EXAMPLES)
    assert not failures, "\n\n".join(failures)


def test_without_a_key(api_schema: Any) -> None:
    failures = fuzz(api_schema, {}, {}, 1)
    assert not failures, "\n\n".join(failures)
