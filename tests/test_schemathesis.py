"""Every operation of the OpenAPI document, fuzzed by schemathesis as each role: no 5xx, no schema violation.

``make test`` runs a short, bounded pass (``CAPCOURSE_FUZZ_EXAMPLES`` cases per
operation and generation mode; 1 by default); ``make fuzz`` a long one.
Cases are generated from the document itself, valid (positive) and invalid
(negative), and sent in-process; each response must not be a server error, and
its status, content type, headers and body must be what the document says.

Each case is generated once and sent as every role, one after the other:
generating is nearly all of the pass's time (as admin, under cProfile,
Hypothesis drew for 78 s of 86 s and the app answered in 4 s), so each role
generating its own cases took several times as long to send the same kinds of
case. The pass runs in one transaction that is rolled back.
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
#: Who sends each case, one after the other: the admin last, since an admin's case can change what others see.
ROLES = ("none", "integration", "outsider", "author", "lead", "admin")


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


def _run(
    operation: Any,
    mode: schemathesis.GenerationMode,
    headers: dict[str, dict[str, str]],
    record: Callable[[str], None],
) -> None:
    """Fuzz ``operation`` with ``mode``'s cases (valid or invalid), each sent as every role of ``headers``."""
    try:
        strategy = operation.as_strategy(generation_mode=mode)
    except Exception as error:  # an operation with nothing to negate
        record(f"{operation.label} ({mode.value}): no strategy: {error}")
        return
    failed: set[str] = set()

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
        # Every role is sent the case, whatever another made of it: a failure is recorded, not raised,
        # and a role's first failure of the operation and mode is its last case, as when each role ran alone.
        for role, role_headers in headers.items():
            if role in failed:
                continue
            try:
                response = case.call(headers=role_headers)
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as error:
                failed.add(role)
                record(f"{operation.label} ({mode.value}) as {role}: {str(error)[:1500]}")

    try:
        fuzz()
    except Unsatisfiable:
        pass  # negative mode, for an operation with nothing that can be made invalid
    except (Exception, BaseExceptionGroup) as error:
        record(f"{operation.label} ({mode.value}): {str(error)[:1500]}")


def test_every_operation_as_each_role(app: Flask, session: Session) -> None:
    keys = _world(session)
    headers = {role: {"Authorization": f"Bearer {keys[role]}"} if role != "none" else {} for role in ROLES}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.label not in KNOWN_GAPS:
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                _run(operation, mode, headers, failures.append)
    assert operations > 50
    assert not failures, f"{len(failures)} failing operations, modes and roles:\n\n" + "\n\n".join(failures)


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
