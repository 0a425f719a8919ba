"""Every operation of the OpenAPI document, fuzzed by schemathesis as each role: no 5xx, no schema violation.

``make test`` runs a short, bounded pass (``CAPCOURSE_FUZZ_EXAMPLES`` cases per
operation, role and generation mode; 1 by default); ``make fuzz`` a long one.
Cases are generated from the document itself, valid (positive) and invalid
(negative), and sent in-process; each response must not be a server error, and
its status, content type, headers and body must be what the document says.
Every role's pass runs in a transaction that is rolled back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from capcourse.accounts.models import MembershipRole, Role
from tests.factories import activity, api_key, course, member, module, programme, user

pytestmark = pytest.mark.db

EXAMPLES = int(os.environ.get("CAPCOURSE_FUZZ_EXAMPLES", "1"))
#: Documentation gaps owned elsewhere, skipped until fixed (remove an entry when its operation documents its answers).
KNOWN_GAPS: set[str] = set()
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ROLES = ("none", "integration", "outsider", "author", "lead", "admin")
#: Invalid input is refused before any role check, so it is sent without a key and as admin
#: (who reaches every handler); the other roles get valid cases only, to keep the pass short.
NEGATIVE_ROLES = {"none", "admin"} if EXAMPLES < 10 else set(ROLES)


def _world(session: Session) -> dict[str, str]:
    """A programme with content, and a key per role (author and lead on the programme, outsider on none)."""
    home = programme(session, "Fuzzed programme")
    activity(session, module(session, course(session, home)))
    keys: dict[str, str] = {}
    for role, membership in (("author", MembershipRole.AUTHOR), ("lead", MembershipRole.LEAD)):
        person = user(session, Role(role))
        member(session, home, person, membership)
        keys[role] = api_key(session, Role(role), person)[1]
    keys["outsider"] = api_key(session, Role.AUTHOR)[1]
    keys["integration"] = api_key(session, Role.INTEGRATION)[1]
    keys["admin"] = api_key(session, Role.ADMIN)[1]
    return keys


def _run(operation: Any, headers: dict[str, str], record: Callable[[str], None], negative: bool) -> None:
    modes = [schemathesis.GenerationMode.POSITIVE]
    if negative:
        modes.append(schemathesis.GenerationMode.NEGATIVE)
    for mode in modes:
        try:
            strategy = operation.as_strategy(generation_mode=mode)
        except Exception as error:  # an operation with nothing to negate
            record(f"{operation.label} ({mode.value}): no strategy: {error}")
            continue

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def fuzz(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Unsatisfiable:
            pass  # negative mode, for an operation with nothing that can be made invalid
        except (Exception, BaseExceptionGroup) as error:
            record(f"{operation.label} ({mode.value}): {str(error)[:1500]}")


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_as_each_role(app: Flask, session: Session, role: str) -> None:
    keys = _world(session)
    headers = {"Authorization": f"Bearer {keys[role]}"} if role != "none" else {}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.label not in KNOWN_GAPS:
            _run(operation, headers, failures.append, negative=role in NEGATIVE_ROLES)
    assert operations > 50
    assert not failures, f"{len(failures)} operations failed as {role}:\n\n" + "\n\n".join(failures)


def test_every_operation_documents_its_success_answer(app: Flask) -> None:
    """Each operation of the OpenAPI document says what it answers when it succeeds (a 2xx or 3xx)."""
    spec = app.test_client().get("/api/openapi.json").json
    missing = {
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method != "parameters" and not any(str(code)[0] in "23" for code in operation.get("responses", {}))
    }
    assert not missing, f"document the success answer of {sorted(missing)}"
