"""Prompts and agent configurations: named prompts, immutable numbered versions, movable labels.

- ``Prompt``: a name unique in its project (``[A-Za-z0-9][A-Za-z0-9._-]*``, so ``<name>@<n>``
  is unambiguous), a description, and the counter its versions are numbered from.
- ``PromptVersion``: number 1..N, template text, the ``{{variables}}`` it uses, tool definitions
  and settings (model, temperature, max tokens, any JSON), message, author, time. Immutable: a
  database trigger refuses UPDATE and DELETE (migration 0002), except the DELETE that purges a
  whole project (``apps.core.sql.project_purge_allowed``).
- ``PromptLabel``: ``production``, ``staging`` or any name, pointing at one version of the same
  prompt in the same project (a composite foreign key says so in the database too); a protected
  label only moves for admins.
- ``PromptLabelMove``: the label's history, append-only like the versions: who moved it, when,
  from which version to which, deploy or rollback.

The author and the mover are kept as a user id and an e-mail copied at the time, not a foreign
key: removing a user never rewrites a version (a ``SET_NULL`` would be an UPDATE).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.core import sealing
from apps.core.models import ProjectOwnedModel

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}"


class Prompt(ProjectOwnedModel):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    latest_version = models.PositiveIntegerField(default=0, help_text="The highest version number (0: none yet).")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="experiments_prompt_name_uniq"),
            # The target of the versions' and labels' composite foreign keys (migration 0002).
            models.UniqueConstraint(fields=["project", "id"], name="experiments_prompt_project_id_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class PromptVersion(ProjectOwnedModel):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    template = models.TextField()
    variables = models.JSONField(default=list, blank=True)
    tools = models.JSONField(default=list, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True, default="")
    author_id = models.BigIntegerField(null=True, blank=True)
    author_email = models.CharField(max_length=254, blank=True, default="")
    author_label = models.CharField(max_length=200, blank=True, default="", help_text="Who, when not a user (an API key).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "prompt", "number"], name="experiments_promptversion_number_uniq"),
            models.UniqueConstraint(fields=["project", "prompt", "id"], name="experiments_promptversion_prompt_id_uniq"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="experiments_promptversion_number_min_check"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt.name}@{self.number}"

    @property
    def author(self) -> str:
        return self.author_email or self.author_label or "(unknown)"


class PromptLabel(ProjectOwnedModel):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=50)
    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="labels")
    protected = models.BooleanField(default=False)
    moved_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "prompt", "name"], name="experiments_promptlabel_name_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.version_id}"


class MoveKind(models.TextChoices):
    CREATE = "create", "Created"
    DEPLOY = "deploy", "Deploy"
    ROLLBACK = "rollback", "Rollback"


class PromptLabelMove(ProjectOwnedModel):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(PromptLabel, on_delete=models.CASCADE, related_name="moves")
    from_version = models.ForeignKey(PromptVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    to_version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=MoveKind.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True, default="")
    actor_label = models.CharField(max_length=200, blank=True, default="")
    moved_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        indexes = [
            models.Index(fields=["project", "label", "-moved_at"], name="exp_labelmove_label_idx"),
            models.Index(fields=["project", "to_version", "moved_at"], name="exp_labelmove_to_idx"),
        ]

    @property
    def actor(self) -> str:
        return self.actor_email or self.actor_label or "(unknown)"


# --- experiments: offline runs over a dataset version -------------------------------------------


class ExperimentSource(models.TextChoices):
    SDK = "sdk", "From code (SDK or API)"
    ENDPOINT = "endpoint", "The worker calls an endpoint"
    UPLOAD = "upload", "Uploaded outputs (JSONL)"


class ExperimentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Experiment(ProjectOwnedModel):
    """One run of one configuration over one ``(dataset, version)``: an output per case, with scores.

    ``prompt_version`` names the prompt version it ran (or ``configuration`` any other named
    setup); ``scorers`` is the list of scorer configurations the worker applies, each
    ``{"name", "kind", …options}``. The dataset version is pinned by its number: experiments
    compared by a validation must share it. Results are unique per ``(experiment, case_id)``, so
    an upload retried or resumed stores each case once.
    """

    name = models.CharField(max_length=200)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="+")
    dataset_version = models.PositiveIntegerField()
    prompt_version = models.ForeignKey(PromptVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="experiments")
    configuration = models.JSONField(default=dict, blank=True)
    scorers = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=10, choices=ExperimentSource.choices, default=ExperimentSource.SDK)
    status = models.CharField(max_length=10, choices=ExperimentStatus.choices, default=ExperimentStatus.PENDING)
    cases_total = models.PositiveIntegerField(default=0)
    cases_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    summary = models.JSONField(default=dict, blank=True)  # scorer → {"n", "passed", "pass_rate", "mean"}
    endpoint_url = models.CharField(max_length=2000, blank=True, default="", help_text="The customer's https endpoint the worker calls per case.")
    endpoint_secret = models.BinaryField(null=True, blank=True, help_text="The endpoint's signing secret, sealed (apps.core.sealing), bound to the experiment id.")
    endpoint_timeout_seconds = models.FloatField(default=10.0, help_text="Each call's timeout.")
    endpoint_concurrency = models.PositiveSmallIntegerField(default=8, help_text="Calls at a time.")
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_by_label = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        indexes = [models.Index(fields=["project", "-created_at"], name="experiments_exp_recent_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(dataset_version__gte=1), name="experiments_experiment_version_check"),
            models.CheckConstraint(condition=models.Q(endpoint_timeout_seconds__gte=1, endpoint_timeout_seconds__lte=60),
                                   name="experiments_experiment_endpoint_timeout_range_check"),
            models.CheckConstraint(condition=models.Q(endpoint_concurrency__gte=1, endpoint_concurrency__lte=32),
                                   name="experiments_experiment_endpoint_concurrency_range_check"),
        ]

    def __str__(self) -> str:
        return self.name

    def endpoint_secret_plain(self) -> str:
        """The endpoint's signing secret, unsealed; raises ``apps.core.sealing.Unsealable``."""
        from apps.core.sealing import unseal

        return unseal(bytes(self.endpoint_secret), context=f"experiment-endpoint:{self.pk}").decode()


sealing.register_binary(
    "experiment.endpoint_secret", model=Experiment, field="endpoint_secret",
    context=lambda experiment: f"experiment-endpoint:{experiment.pk}",
)


class ExperimentResult(ProjectOwnedModel):
    """One case's output in an experiment and its scores (``{scorer name: bool | number}``)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="results")
    case_id = models.UUIDField()
    output = models.TextField(blank=True, default="")
    scores = models.JSONField(default=dict, blank=True)
    posted = models.JSONField(default=dict, blank=True, help_text="The scores the customer's code or endpoint sent.")
    scored = models.BooleanField(default=False, help_text="The worker applied the scorers to this output.")
    error = models.TextField(blank=True, default="")
    latency_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "experiment", "case_id"], name="experiments_result_case_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}:{self.case_id}"


# --- changes and validations ------------------------------------------------------------------


class ChangeStatus(models.TextChoices):
    OPEN = "open", "Open"
    PROMOTED = "promoted", "Promoted"
    ROLLED_BACK = "rolled_back", "Rolled back"


class Change(ProjectOwnedModel):
    """A fix: the backlog problems it addresses, a candidate prompt version and the baseline it is
    compared with (by default the version holding ``production`` when the change was made)."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    problems = models.ManyToManyField("problems.Problem", blank=True, related_name="+")
    candidate = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="+")
    baseline = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=50, default="production")
    status = models.CharField(max_length=12, choices=ChangeStatus.choices, default=ChangeStatus.OPEN)
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_by_label = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta(ProjectOwnedModel.Meta):
        indexes = [models.Index(fields=["project", "-created_at"], name="experiments_change_recent_idx")]

    def __str__(self) -> str:
        return self.title


class ValidationKind(models.TextChoices):
    OFFLINE = "offline", "Offline"
    ONLINE = "online", "Online"


class ValidationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ValidationVerdict(models.TextChoices):
    SHIP = "ship", "Ship"
    HOLD = "hold", "Hold"
    INCONCLUSIVE = "inconclusive", "Inconclusive"
    RUNNING = "running", "Running"


class Validation(ProjectOwnedModel):
    """One validation: ``inputs`` is the (normalised) POST body; ``report`` the pinned GET shape's
    figures (metrics, flipped, sample_needed, explanation, design). ``inputs_hash`` is unique per
    project, so the same inputs give the same row and report."""

    change = models.ForeignKey(Change, null=True, blank=True, on_delete=models.CASCADE, related_name="validations")
    kind = models.CharField(max_length=8, choices=ValidationKind.choices)
    inputs = models.JSONField(default=dict)
    inputs_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=ValidationStatus.choices, default=ValidationStatus.PENDING)
    verdict = models.CharField(max_length=12, choices=ValidationVerdict.choices, default=ValidationVerdict.RUNNING)
    report = models.JSONField(default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_by_label = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["project", "inputs_hash"], name="experiments_validation_inputs_uniq")]
        indexes = [models.Index(fields=["project", "status"], name="experiments_validation_st_idx")]

    def __str__(self) -> str:
        return f"{self.kind} validation {self.pk}"


class Regression(ProjectOwnedModel):
    """The post-deploy watch found a guardrail broken: the promoted version against the previous
    one over the same hours of the week."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="regressions")
    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="+")
    previous = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="+")
    signal = models.CharField(max_length=100)
    figures = models.JSONField(default=dict)
    explanation = models.TextField(blank=True, default="")
    raised_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    rolled_back = models.BooleanField(default=False)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["project", "change", "signal"], name="experiments_regression_uniq")]

    def __str__(self) -> str:
        return f"{self.signal} regression on {self.version_id}"
