"""Schemathesis over the project's own OpenAPI schema (``/api/schema/``, generated in-process).

Every operation is fuzzed three times: authenticated with a project API key (``Bearer al_sk_…``),
with a signed-in owner's browser session (session cookie + CSRF header), and with the owner's
organization token (``Bearer al_ot_…``, every scope, no CSRF), against the
WSGI app in-process and the real test database. Path ids name real objects of the seeded world,
so detail routes reach their views instead of stopping at a 404. Each case runs in a savepoint
that is rolled back, so a DELETE in one case never empties the world for the next.

All of schemathesis' response checks are on; the few deliberate deviations are listed in
``DEVIATIONS`` with their reason. The module prints what it tried (operations, cases per auth
mode, failures) for the README.
"""

from __future__ import annotations

import collections
import re

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.middleware.csrf import _get_new_csrf_string
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

from apps.core.roles import Role
from apps.core.audit import SYSTEM
from apps.problems.models import Problem
from apps.review.models import ReviewItem
from apps.review.services import queues as queue_services
from apps.traces.schemas import KIND_PATTERN
from tests.conftest import client_for
from tests.factories.organizations import InvitationFactory, org_token_with_secret
from tests.factories.experiments import prompt_with_versions
from tests.factories.organizations import InvitationFactory
from tests.factories.projects import api_key_with_secret
from tests.factories.traces import TurnFactory
from tests.problems.conftest import flagged_turn, run

EXAMPLES_PER_OPERATION = 25
COVERAGE_PHASE = True
AUTH_MODES = ["api_key", "session", "org_token"]

# The deliberate deviations, in one place: (operation, check) → why the check is off there.
_BODY_NAMES_OBJECTS = (
    "The body names other objects by id (members, problems, queues): one that does not exist in the "
    "tenant is a 400 `unknown_*`, which no schema can state."
)
_SERVICE_RULE = (
    "A rule the service owns, with a stable code clients rely on, stated in the field's description: "
    "a title or a status (`required`), a verdict `confirm`|`reject` (`invalid_verdict`), at least one "
    "member turn (`required`), 1 to 50 categories (`invalid`)."
)
_REDACTION_PATTERNS = (
    "A customer pattern must compile, must not match the empty string and must not backtrack catastrophically "
    "(`pattern_invalid`, `pattern_matches_empty`, `pattern_too_slow`); its name is a letter then letters, digits "
    "or _ (`invalid_name`), unique (`duplicate_name`): rules a schema cannot state about a regular expression."
)
_NAME_TEXT = (
    "A name is one line of plain text: control characters, line separators and text-direction "
    "overrides are refused (400 `invalid`, apps.core.text.required_name; README \"Names\"). The "
    "generator's strings contain them, and the schema states the rule in words, not as a pattern."
)
_NUL_STRIPPED = (
    "The JSON door strips NUL characters before lengths are checked (PostgreSQL cannot store them), so a "
    "text that is over `maxLength` only by its NULs is accepted, shortened."
)
_UNKNOWN_QUERY = (
    "An unknown query parameter is ignored, as on every list: a client's cache-buster or tracing "
    "parameter must not fail the request."
)
_PROMPT_CONTENT = (
    "Tool definitions must be valid JSON Schema and settings in range (`invalid_tools`, `invalid_settings`): the "
    "service checks each `parameters` against its metaschema, which OpenAPI 3.0 cannot state; the field "
    "descriptions say it."
)
_PER_CASE = (
    "By contract a batch of cases answers with one result per case and refuses a bad case inside "
    "`results` (status 400, code, field), so the good cases of the same request are added: a "
    "schema-violating case is not a 4xx (as `POST /api/v1/ingest`)."
)
_DATASETS = "/api/v1/orgs/{org}/projects/{project}/datasets"
_EXPERIMENTS = "/api/v1/orgs/{org}/projects/{project}/experiments"
_EXPERIMENT_BODY = (
    "The body names a dataset, its version and a prompt version by name and number: one that does not "
    "exist in the project is a 404; the experiment's name is one line of text (400 `invalid`); a scorer's "
    "regex must compile and a JSON Schema be valid (400 `invalid_scorer`), which OpenAPI cannot state; an "
    "endpoint must be public https (400 `invalid_endpoint`)."
)
_PER_RESULT = (
    "By contract an upload answers 207 with one outcome per result and refuses a bad result inside "
    "`results` (status 400, code, field), so the good ones are stored (as `POST /api/v1/ingest`)."
)
DEVIATIONS: dict[tuple[str, str], str] = {
    ("POST /api/v1/orgs/{org}/projects/{project}/prompts/", "positive_data_acceptance"): _PROMPT_CONTENT,
    ("POST /api/v1/orgs/{org}/projects/{project}/prompts/{prompt}/versions/", "positive_data_acceptance"): _PROMPT_CONTENT,
    ("POST /api/v1/prompts/{prompt}/versions", "positive_data_acceptance"): _PROMPT_CONTENT,
    ("GET /api/v1/prompts/{prompt}", "positive_data_acceptance"): (
        "`label` and `version` are exclusive (400 `invalid` when both are sent), stated in their descriptions."
    ),
    ("POST /api/v1/datasets/{name}/cases", "negative_data_rejection"): _PER_CASE,
    (f"POST {_DATASETS}/{{dataset}}/cases/", "negative_data_rejection"): _PER_CASE,
    ("POST /api/v1/datasets", "positive_data_acceptance"): _NAME_TEXT,
    (f"POST {_DATASETS}/", "positive_data_acceptance"): _NAME_TEXT,
    (f"PATCH {_DATASETS}/{{dataset}}/", "positive_data_acceptance"): _NAME_TEXT + " " + _SERVICE_RULE,
    (f"PATCH {_DATASETS}/{{dataset}}/", "negative_data_rejection"): _NUL_STRIPPED,
    ("POST /api/v1/orgs/{org}/projects/{project}/redaction/test", "negative_data_rejection"): _NUL_STRIPPED,
    (f"POST {_DATASETS}/{{dataset}}/cases/move/", "positive_data_acceptance"): (
        "A split is one line of text like a name (control characters refused, 400 `invalid`); and a "
        "`version` older than the latest is 409 `version_immutable`."
    ),
    (f"POST {_DATASETS}/{{dataset}}/cases/remove/", "positive_data_acceptance"): "A `version` older than the latest is 409 `version_immutable`; unknown case ids are 404.",
    (f"PATCH {_DATASETS}/{{dataset}}/versions/{{number}}/cases/{{case}}/", "positive_data_acceptance"): (
        "`changes` holds at least one case field, each validated like a new case's (400 `required` / `invalid`)."
    ),
    (f"PUT {_DATASETS}/{{dataset}}/auto-add/", "positive_data_acceptance"): _BODY_NAMES_OBJECTS,
    **{(operation, "negative_data_rejection"): _UNKNOWN_QUERY for operation in (
        "GET /api/v1/datasets/{name}/versions/{number}/cases", "GET /api/v1/datasets/{name}/diff",
        "GET /api/v1/datasets/{name}/versions/{number}/export", f"GET {_DATASETS}/{{dataset}}/versions/{{number}}/cases/",
        f"GET {_DATASETS}/{{dataset}}/diff/", f"GET {_DATASETS}/{{dataset}}/versions/{{number}}/export/",
        f"GET {_EXPERIMENTS}/{{experiment}}/compare/",
    )},
    ("POST /api/v1/experiments", "positive_data_acceptance"): _EXPERIMENT_BODY,
    (f"POST {_EXPERIMENTS}/", "positive_data_acceptance"): _EXPERIMENT_BODY,
    ("POST /api/v1/experiments/{experiment_id}/results", "negative_data_rejection"): _PER_RESULT,
    (f"POST {_EXPERIMENTS}/{{experiment}}/results/upload/", "negative_data_rejection"): _PER_RESULT,
    (f"POST {_EXPERIMENTS}/{{experiment}}/results/upload/", "positive_data_acceptance"): (
        "The body `{\"results\": [...]}` is required (400 `invalid` without it), as on the key route."
    ),
    ("POST /api/v1/experiments/{experiment_id}/outputs", "positive_data_acceptance"): (
        "A JSONL body with no line is 400 `invalid` (nothing to upload); each line's problems are its item's 400."
    ),
    (f"GET {_EXPERIMENTS}/{{experiment}}/compare/", "positive_data_acceptance"): (
        "`with` names another experiment of the project on the same dataset version: another id is 404, "
        "another dataset version 400 `different_dataset_versions`, the same experiment 400 `same_experiment`."
    ),
    ("POST /api/v1/ingest", "negative_data_rejection"): (
        "By contract a batch answers 207 and refuses a bad item inside `results` (status 400, code, "
        "field), so the good items of the same batch are stored: a schema-violating item is not a 4xx."
    ),
    ("POST /api/v1/orgs/{org}/projects/", "negative_data_rejection"): (
        "DRF text fields take a JSON number as its text (`{\"name\": 7}` names the project \"7\")."
    ),
    ("POST /api/v1/orgs/{org}/projects/", "positive_data_acceptance"): _NAME_TEXT,
    ("PATCH /api/v1/orgs/{org}/projects/{project}/", "positive_data_acceptance"): _NAME_TEXT,
    ("POST /api/v1/orgs/{org}/projects/{project}/keys/", "positive_data_acceptance"): _NAME_TEXT,
    ("POST /api/v1/validations", "positive_data_acceptance"):
        "the body names experiments of this project (random ids are 404) and arms/signals whose relations "
        "(candidate ≠ baseline, one dataset version, a signal once) a schema cannot state; each refusal has its code",
    ("POST /api/v1/changes", "positive_data_acceptance"):
        "the body names a prompt and versions of this project (random names are 404); the baseline must differ",
    ("POST /api/v1/orgs/{org}/tokens/", "positive_data_acceptance"): _NAME_TEXT,
    ("PATCH /api/v1/orgs/{org}", "positive_data_acceptance"): _NAME_TEXT,
    ("GET /api/v1/orgs/{org}/audit-events/", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("GET /api/v1/orgs/{org}/invitations/", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("GET /api/v1/orgs/{org}/projects/{project}/keys/", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("GET /api/v1/orgs/{org}/projects/{project}/queues/{queue}/items/", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("PUT /api/v1/orgs/{org}/projects/{project}/access", "positive_data_acceptance"): _BODY_NAMES_OBJECTS,
    ("POST /api/v1/orgs/{org}/projects/{project}/problems/{problem}/merge/", "positive_data_acceptance"): _BODY_NAMES_OBJECTS,
    ("POST /api/v1/orgs/{org}/projects/{project}/queues/", "positive_data_acceptance"): _BODY_NAMES_OBJECTS,
    ("PATCH /api/v1/orgs/{org}/projects/{project}/queues/{queue}/", "positive_data_acceptance"): _BODY_NAMES_OBJECTS,
    ("POST /api/v1/orgs/{org}/projects/{project}/queues/{queue}/items/{item}/assign/", "positive_data_acceptance"): _BODY_NAMES_OBJECTS,
    ("POST /api/v1/orgs/{org}/projects/{project}/queues/{queue}/reviewers/", "positive_data_acceptance"): _BODY_NAMES_OBJECTS,
    ("PATCH /api/v1/orgs/{org}/projects/{project}/problems/{problem}/", "positive_data_acceptance"): _SERVICE_RULE,
    ("POST /api/v1/orgs/{org}/projects/{project}/problems/{problem}/cause/", "positive_data_acceptance"): _SERVICE_RULE,
    ("POST /api/v1/orgs/{org}/projects/{project}/problems/{problem}/split/", "positive_data_acceptance"): _SERVICE_RULE,
    ("PUT /api/v1/orgs/{org}/projects/{project}/taxonomy", "positive_data_acceptance"): _SERVICE_RULE,
    ("PUT /api/v1/orgs/{org}/projects/{project}/redaction", "positive_data_acceptance"): _REDACTION_PATTERNS,
    ("POST /api/v1/orgs/{org}/projects/{project}/redaction/test", "positive_data_acceptance"): _REDACTION_PATTERNS,
    ("GET /api/v1/orgs/{org}/projects/{project}/changes/", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("GET /api/v1/orgs/{org}/projects/{project}/problems/", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("GET /api/v1/orgs/{org}/retention", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("GET /api/v1/orgs/{org}/projects/{project}/retention", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("GET /api/v1/orgs/{org}/projects/{project}/validations/", "negative_data_rejection"): _UNKNOWN_QUERY,
    ("POST /api/v1/orgs/{org}/projects/{project}/changes/", "positive_data_acceptance"):
        "as POST /api/v1/changes: the body names a prompt and versions of this project (random names are 404), the "
        "baseline must differ; the title is one line of text (400 `invalid`). " + _NAME_TEXT,
    ("POST /api/v1/orgs/{org}/projects/{project}/validations/", "positive_data_acceptance"):
        "as POST /api/v1/validations: the body names experiments of this project (random ids are 404) and arms whose "
        "relations (candidate ≠ baseline, one dataset version) a schema cannot state; each refusal has its code",
}
# Constraints OpenAPI 3.0 cannot state, applied to the generated cases instead (not deviations:
# every check stays on for these cases).
# - Signal kinds (the keys of `signals`) match KIND_PATTERN, given in the description (3.0 has no
#   `propertyNames`): ``_signal_kinds_as_documented`` renames generated keys into the pattern.
# - A page `cursor` is opaque: only one from a page's `next`/`previous` link is valid, any other is
#   a 400 `invalid` (tests/core/test_health_and_schema.py): ``_no_made_up_cursor`` drops generated ones.

_TALLY: dict[str, collections.Counter] = {mode: collections.Counter() for mode in AUTH_MODES}
_FAILED: dict[str, set[str]] = {mode: set() for mode in AUTH_MODES}
_STATUSES: dict[str, collections.Counter] = {mode: collections.Counter() for mode in AUTH_MODES}


@pytest.fixture
def world(db, organization, project, members):
    """Real objects for every id kind in the schema's paths."""
    _, secret = api_key_with_secret(project=project, name="fuzz")
    other_key, _ = api_key_with_secret(project=project, name="spare")
    second_level = queue_services.review_queue_create(project=project, actor=SYSTEM, name="Second level")
    queue = queue_services.review_queue_create(project=project, actor=SYSTEM, name="Triage", escalate_to=second_level)
    queue_services.review_queue_assign(queue=queue, membership=members[Role.REVIEWER], actor=SYSTEM)
    turn = TurnFactory(project=project)
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id=turn.id)
    for text in ["How do I get a refund?", "refund my annual plan", "I want a refund on my plan"]:
        flagged_turn(project, text)
    run(project)
    problem = Problem.objects.for_project(project).order_by("pk").first()
    invitation = InvitationFactory(organization=organization)
    _, org_token = org_token_with_secret(membership=members[Role.OWNER], name="fuzz")
    spare_token, _ = org_token_with_secret(membership=members[Role.ADMIN], name="spare")
    prompt_with_versions(project=project, count=2, labels={"production": 1})
    dataset = _fuzz_dataset(project, turn)
    experiment = _fuzz_experiment(project, dataset)
    from apps.experiments.models import Validation
    from apps.experiments.services.changes import change_create
    from tests.factories.experiments import AUTHOR

    change = change_create(project=project, title="Fuzz change", prompt="support-agent", candidate=2, author=AUTHOR)
    validation = Validation.objects.create(project=project, change=change, kind="offline", inputs={"kind": "offline"},
                                           inputs_hash="fuzz", status="done", verdict="inconclusive",
                                           report={"metrics": [], "flipped": [], "explanation": "Fuzz."})
    return {
        "secret": secret,
        "org_token": org_token,
        "owner": members[Role.OWNER].user,
        "path": {
            "org": organization.slug,
            "project": str(project.pk),
            "key_id": other_key.key_id,
            "member": str(members[Role.MEMBER].pk),
            "invitation": str(invitation.pk),
            "queue": str(queue.pk),
            "item": str(item.pk),
            "problem": str(problem.pk),
            "turn": str(turn.id),
            "token_id": spare_token.token_id,
            "prompt": "support-agent",
            "version": "1",
            "label": "production",
            "dataset": str(dataset.pk),
            "name": dataset.name,
            "number": "1",
            "case": str(dataset.first_case_id),
            "experiment": str(experiment.pk),
            "experiment_id": str(experiment.pk),
            "change": str(change.pk),
            "validation": str(validation.pk),
            "end_user_id": TurnFactory(project=project, end_user_id="fuzz end user").end_user_id,
        },
    }


def _fuzz_dataset(project, turn):
    """A dataset with one version holding a hand-written case and the turn's case."""
    from apps.datasets.models import Dataset
    from apps.datasets.services.changes import Author, cases_add, revision_new
    from apps.datasets.services.turns import revisions_from_turns

    dataset = Dataset.objects.create(project=project, name="Fuzz cases")
    hand = revision_new({"input": "How long do refunds take?", "expected_output": "30 days."}, source="hand")
    cases_add(dataset=dataset, author=Author(user=None, label="fuzz"), revisions=[hand, *revisions_from_turns(project=project, turn_ids=[turn.id])])
    dataset.refresh_from_db()
    dataset.first_case_id = hand.case_id
    return dataset


def _fuzz_experiment(project, dataset):
    """A scored experiment over the fuzz dataset, and a second one to compare it with."""
    from apps.experiments.services.experiments import experiment_create, experiment_score, results_upload

    experiment = experiment_create(project=project, name="Fuzz run", dataset=dataset.name, dataset_version=1,
                                   scorers=[{"name": "exact", "kind": "exact_match"}])
    results_upload(experiment=experiment, items=[{"case_id": str(dataset.first_case_id), "output": "30 days."}])
    experiment_score(experiment=experiment)
    return experiment


@pytest.fixture
def in_process_app():
    """Django's WSGI handler inside the test's transaction: the per-request connection reset is
    off for the duration (as Django's own test client does), so every request sees the world."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=AUTH_MODES)
def auth_mode(request) -> str:
    return request.param


@pytest.fixture
def credentials(auth_mode, world, settings):
    """What the auth mode sends: the project key, the owner's organization token, or the owner's
    session cookie with the CSRF cookie and the matching ``X-CSRFToken`` header a browser's script sends."""
    settings.ORG_TOKEN_RATE_LIMIT_PER_MINUTE = 10**6  # every case would otherwise share one minute's budget
    if auth_mode == "api_key":
        _CREDENTIALS.update(headers={"Authorization": f"Bearer {world['secret']}"}, cookies={})
    elif auth_mode == "org_token":
        _CREDENTIALS.update(headers={"Authorization": f"Bearer {world['org_token']}"}, cookies={})
    else:
        session = client_for(world["owner"]).cookies["sessionid"].value
        csrf = _get_new_csrf_string()
        _CREDENTIALS.update(headers={"X-CSRFToken": csrf}, cookies={"sessionid": session, "csrftoken": csrf})
    yield
    _CREDENTIALS.clear()


CONFIG = {
    "phases": {"coverage": {"enabled": COVERAGE_PHASE}},
    "generation": {
        "max-examples": EXAMPLES_PER_OPERATION,
        "deterministic": True,  # the same cases on every run: a CI failure reproduces locally
        "database": "none",
        "with-security-parameters": False,  # the auth mode under test sends the credentials
    },
}
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", WSGIHandler(), config=SchemathesisConfig.from_dict(CONFIG)
)


_CREDENTIALS: dict[str, dict[str, str]] = {}
# JSONL outputs upload (POST /api/v1/experiments/{id}/outputs): bytes, sent as generated.
schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")


@schema.auth(refresh_interval=None)
class _AuthModeUnderTest:
    """Schemathesis' own auth hook, so its ignored_auth check knows the credentials are real and
    probes the operation again without them (and with wrong ones): every operation must refuse."""

    def get(self, case, context):
        return _CREDENTIALS or None  # None while collecting: no test has made its world yet

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), **data["headers"]}
        case.cookies = {**(case.cookies or {}), **data["cookies"]}


_KIND = re.compile(KIND_PATTERN)


@schema.hook("map_body")
def _signal_kinds_as_documented(context, body):
    """Rename every generated key of a ``signals`` object that is not a signal kind."""
    if isinstance(body, dict):
        for name, value in body.items():
            if name == "signals" and isinstance(value, dict):
                body[name] = {
                    (key if _KIND.match(key) else f"kind_{index}"): item for index, (key, item) in enumerate(value.items())
                }
            else:
                _signal_kinds_as_documented(context, value)
    elif isinstance(body, list):
        for value in body:
            _signal_kinds_as_documented(context, value)
    return body


@schema.hook("map_query")
def _no_made_up_cursor(context, query):
    if query:
        query.pop("cursor", None)
    return query


def _skipped_checks(label: str) -> list:
    return [getattr(openapi_checks, check) for operation, check in DEVIATIONS if operation == label]


@pytest.fixture(scope="module", autouse=True)
def report(request):
    """Print what was tried, past pytest's capture, for the README's figures."""
    yield
    lines = [
        f"schemathesis [{mode}]: {len(_TALLY[mode])} operations, {sum(_TALLY[mode].values())} cases, "
        f"{len(_FAILED[mode])} failing operations, {len(DEVIATIONS)} listed deviations "
        f"(answers: {', '.join(f'{kind} {count}' for kind, count in sorted(_STATUSES[mode].items()))})"
        for mode in AUTH_MODES
        if _TALLY[mode]
    ]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@schema.parametrize()
def test_every_operation_conforms_to_the_schema(case, auth_mode, credentials, world, in_process_app):
    label = case.operation.label
    _TALLY[auth_mode][label] += 1
    if case.path_parameters:
        case.path_parameters = {name: world["path"][name] for name in case.path_parameters}
    try:
        with transaction.atomic():
            response = case.call_and_validate(
                app=in_process_app, excluded_checks=_skipped_checks(label)
            )
            _STATUSES[auth_mode][f"{response.status_code // 100}xx"] += 1
            transaction.set_rollback(True)
    except FailureGroup:
        _FAILED[auth_mode].add(label)
        raise
