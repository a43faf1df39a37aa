"""Experiments for agents and CI, with the project API key (the key names the project):

- ``POST /api/v1/experiments`` ``{"name", "dataset", "dataset_version", "prompt"?: {"name",
  "version"}, "configuration"?: {"name", …}, "scorers"?: [...], "endpoint"?: {"url", "secret",
  "timeout"?, "concurrency"?}}`` → 201 ``{"id"}``. With ``endpoint`` the worker calls it per case
  (``experiments.run_endpoint``), ``concurrency`` calls at a time (1-32, 8), each with ``timeout``
  seconds (1-60, 10).
- ``POST /api/v1/experiments/{id}/results`` ``{"results": [{"case_id", "output", "scores"?}]}``
  → 207 with one outcome per item (201 stored, 200 updated, 400 refused, 404 not a case of that
  dataset version). ``GET`` the same route → ``{"case_ids": [...]}`` already uploaded (resume).
- ``POST /api/v1/experiments/{id}/outputs`` a JSONL body (``application/x-ndjson``), one result
  object a line → 207 like ``results``; a line that is not JSON is that line's 400.
- ``GET /api/v1/experiments/{id}`` → the experiment with its summary per scorer.
"""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from apps.core.body import read_body, read_json
from apps.core.errors import ValidationFailed
from apps.core.tasks import publish
from apps.experiments import presenters, shapes
from apps.experiments.models import ExperimentSource
from apps.experiments.selectors.experiments import experiment_get, result_case_ids
from apps.experiments.services.endpoint import endpoint_clean
from apps.experiments.services.experiments import experiment_create, results_upload
from apps.traces.api import IngestView

TAG = ["experiments"]
NOT_FOUND = OpenApiResponse(description="No such experiment, dataset, version or prompt version here (`not_found`)")


def _object(request) -> dict:
    body = read_json(request)
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", code="invalid")
    return body


class _ExperimentKeyView(IngestView):
    rate_limit_bucket = "experiments"


def create_from_body(*, project, body: dict, created_by_id=None, created_by_label: str = ""):
    """Shared by the key and session routes: validate ``body`` and create (and start) the experiment."""
    unknown = set(body) - {"name", "dataset", "dataset_version", "prompt", "configuration", "scorers", "endpoint"}
    if unknown:
        raise ValidationFailed(f"Unknown field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    endpoint = endpoint_clean(body["endpoint"]) if body.get("endpoint") is not None else None
    url = endpoint["url"] if endpoint else ""
    experiment = experiment_create(
        project=project, name=body.get("name"), dataset=body.get("dataset"), dataset_version=body.get("dataset_version"),
        prompt=body.get("prompt"), configuration=body.get("configuration"), scorers=body.get("scorers"),
        source=ExperimentSource.ENDPOINT if url else ExperimentSource.SDK, created_by_id=created_by_id,
        created_by_label=created_by_label, endpoint=endpoint,
    )
    if url:
        from django.db import transaction

        project_id, pk = str(project.id), experiment.pk
        transaction.on_commit(lambda: publish("experiments.run_endpoint", {"project_id": project_id, "experiment_id": pk}))
    return experiment


def jsonl_items(raw: bytes) -> tuple[list, dict[int, str]]:
    """The values of a JSONL body (None for a line that is not JSON) and ``{index: why}`` for those."""
    from apps.core.body import decode_json
    from apps.core.errors import ServiceError

    items, bad = [], {}
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(decode_json(line))
        except ServiceError as exc:
            bad[len(items)] = f"Line {number}: {exc}"
            items.append(None)
    return items, bad


class ExperimentCreateView(_ExperimentKeyView):
    @extend_schema(
        operation_id="experiments_create", tags=TAG, request={"application/json": shapes.EXPERIMENT_IN},
        responses={201: shapes.CREATED_OUT, 404: NOT_FOUND},
        description="Create an experiment over a dataset version (it must exist here). A scorer that does not "
                    "compile is 400 `invalid_scorer`; a missing dataset, version or prompt version is 404.",
    )
    def post(self, request):
        experiment = create_from_body(project=self.project, body=_object(request),
                                      created_by_label=f"API key {request.auth.name}")
        return Response({"id": experiment.pk}, status=201)


class ExperimentDetailView(_ExperimentKeyView):
    @extend_schema(operation_id="experiments_get", tags=TAG, responses={200: shapes.EXPERIMENT_OUT, 404: NOT_FOUND},
                   description="The experiment, its progress and its summary per scorer.")
    def get(self, request, experiment_id):
        return Response(presenters.experiment_body(experiment_get(project=self.project, experiment_id=experiment_id)))


class ExperimentResultsView(_ExperimentKeyView):
    @extend_schema(operation_id="experiments_results_upload", tags=TAG, request={"application/json": shapes.RESULTS_IN},
                   responses={207: OpenApiResponse(response=shapes.UPLOAD_OUT, description="One outcome per item"), 404: NOT_FOUND},
                   description="Upload outputs (and posted scores). Idempotent by (experiment, case_id): a re-upload "
                               "replaces the output and scores (200). A case not in the dataset version is that item's 404.")
    def post(self, request, experiment_id):
        experiment = experiment_get(project=self.project, experiment_id=experiment_id)
        body = _object(request)
        if "results" not in body:
            raise ValidationFailed("Send {\"results\": [...]}.", field="results")
        return Response(results_upload(experiment=experiment, items=body["results"]).as_dict(), status=207)

    @extend_schema(operation_id="experiments_results_case_ids", tags=TAG, responses={200: shapes.CASE_IDS_OUT, 404: NOT_FOUND},
                   description="The case ids already uploaded (a resumed run skips them).")
    def get(self, request, experiment_id):
        experiment = experiment_get(project=self.project, experiment_id=experiment_id)
        return Response({"case_ids": result_case_ids(experiment=experiment)})


class ExperimentOutputsView(_ExperimentKeyView):
    @extend_schema(operation_id="experiments_outputs_upload", tags=TAG,
                   request={"application/x-ndjson": {"type": "string", "format": "binary"}},
                   responses={207: OpenApiResponse(response=shapes.UPLOAD_OUT, description="One outcome per line"), 404: NOT_FOUND},
                   description="JSONL of outputs, one {\"case_id\", \"output\", \"scores\"?} a line (at most 1000 lines).")
    def post(self, request, experiment_id):
        experiment = experiment_get(project=self.project, experiment_id=experiment_id)
        return Response(upload_jsonl(experiment=experiment, raw=read_body(request)), status=207)


def upload_jsonl(*, experiment, raw: bytes) -> dict:
    items, bad = jsonl_items(raw)
    if not items:
        raise ValidationFailed("The JSONL holds no lines.", field="body")
    body = results_upload(experiment=experiment, items=items).as_dict()
    for index, message in bad.items():
        body["results"][index].update(code="malformed_json", message=message, field=f"results[{index}]")
    return body
