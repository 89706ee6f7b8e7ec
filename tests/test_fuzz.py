"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis, in-process).

Schemathesis generates valid and invalid requests for every documented operation and checks each
response with its default checks: no 5xx, status codes and content types the document promises,
response bodies and headers that match the documented schemas, invalid input rejected with a 4xx,
valid input accepted. Rate limiting is off in this app (the fuzzer is one very busy client).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings

from assistant import Assistant
from web.app import create_app
from web.settings import WebSettings

EXAMPLES_PER_OPERATION = 500
MIN_REQUESTS = 2000

# Every request and every status the fuzzer saw, across operations (module-level: the lazy
# schema runs all operations inside the one test below).
calls: list[tuple[str, int]] = []


@pytest.fixture(scope="module")
def fuzz_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-data")


@pytest.fixture(scope="module")
def app(chars_assistant: Assistant, fuzz_data_dir: Path) -> FastAPI:
    return create_app(chars_assistant, WebSettings(data_dir=fuzz_data_dir, rate_limit=None))


# The document is the app's own; it does not depend on the Assistant, so it is read at import
# (schemathesis parametrizes at collection time). Requests go to the `app` fixture in-process.
# (schemathesis.pytest.from_fixture would defer this, but it does not work with pytest 9.)
schema = schemathesis.openapi.from_dict(create_app(settings=WebSettings(rate_limit=None)).openapi())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same requests on every run; CI failures reproduce locally
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure's first example is reported as is
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema_and_never_fails(case: schemathesis.Case, app: FastAPI) -> None:
    response = case.call_and_validate(app=app)  # raises on any failed check, 5xx included
    calls.append((f"{case.method} {case.path}", response.status_code))
    assert response.status_code < 500


def test_fuzzing_sent_enough_requests_and_left_no_personal_data(fuzz_data_dir: Path, scan_pii: ModuleType) -> None:
    if not calls:
        pytest.skip("the fuzzing test did not run in this session")
    per_operation: dict[str, int] = {}
    for label, _ in calls:
        per_operation[label] = per_operation.get(label, 0) + 1
    print(f"schemathesis: {len(calls)} requests; {per_operation}")
    assert len(calls) >= MIN_REQUESTS, per_operation
    assert not [c for c in calls if c[1] >= 500]
    statuses = {s for _, s in calls}
    assert 200 in statuses and 422 in statuses  # both valid and invalid requests were generated
    report = scan_pii.scan([fuzz_data_dir])
    assert report.files >= 1 and report.total == 0, report.samples
