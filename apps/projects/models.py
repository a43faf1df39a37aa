import hashlib
import hmac
import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from apps.core.models import OrganizationOwnedModel, ProjectOwnedModel
from apps.core import sealing
from apps.core.sealing import seal, unseal

ACCESS_PERMISSION = "projects.access_project"


# The feedback-link scheme of DESIGN.md: signing key = HMAC-SHA256(secret API key, this context).
LINK_SIGNING_CONTEXT = b"agentloop-feedback-v1"


def derive_signing_key(secret_api_key: str) -> bytes:
    """The feedback-link signing key of a secret API key (both SDKs derive the same bytes)."""
    return hmac.new(secret_api_key.encode("utf-8"), LINK_SIGNING_CONTEXT, hashlib.sha256).digest()


def _signing_context(key_id: str) -> str:
    """What a sealed link signing key is bound to (migration projects.0002 spells it too)."""
    return f"api-key-signing:{key_id}"


class Project(OrganizationOwnedModel):
    """An agent (or environment) whose turns are captured. Restricted projects are visible only
    to org admins and to members granted ``projects.access_project`` on them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    is_restricted = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(OrganizationOwnedModel.Meta):
        permissions = [("access_project", "Can access a restricted project")]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="projects_project_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class ProjectUserObjectPermission(UserObjectPermissionBase):
    """django-guardian direct foreign-key permission rows for projects (no generic FK scans)."""

    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)


class ProjectGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)


class ApiKey(ProjectOwnedModel):
    """A secret ingestion key ``al_sk_<key_id>_<secret>``; only a SHA-256 of the secret is kept.

    The secret has 256 bits of entropy, so a fast hash is safe and keeps ingestion auth cheap.
    """

    key_id = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64)
    secret_hint = models.CharField(max_length=8, help_text="First characters of the secret, for recognition.")
    signing_key = models.BinaryField(
        max_length=64, help_text="HMAC key derived from the secret, sealed (apps.core.sealing); signs feedback links."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(ProjectOwnedModel.Meta):
        indexes = [models.Index(fields=["project", "-created_at"], name="projects_apikey_created_idx")]

    @property
    def prefix(self) -> str:
        return f"al_sk_{self.key_id}_{self.secret_hint}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def sealed_signing_key(key_id: str, signing_key: bytes) -> bytes:
        """``signing_key`` as stored: sealed at rest, bound to its key id."""
        return seal(signing_key, context=_signing_context(key_id))

    def link_signing_key(self) -> bytes:
        """The feedback-link HMAC key, unsealed; raises ``apps.core.sealing.Unsealable``."""
        return unseal(self.signing_key, context=_signing_context(self.key_id))

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"


def _redaction_key_context(project_id) -> str:
    """What a sealed redaction hash key is bound to: its project."""
    return f"redaction-key:{project_id}"


class PlaceholderStyle(models.TextChoices):
    PLAIN = "plain", "Typed placeholder: [EMAIL]"
    KEYED = "keyed", "Typed placeholder with a keyed hash: [EMAIL:3f2a] (same value, same placeholder)"


class RedactionSettings(ProjectOwnedModel):
    """A project's PII redaction at ingestion (apps.core.redaction is the engine).

    One row per project; no row means redaction is off. ``version`` grows on every save: the
    compiled redactor is cached per (project, version) in each process (apps.projects.redaction).
    ``hash_key`` (32 random bytes) keys the ``[EMAIL:3f2a]`` placeholders; it is sealed at rest
    like link signing keys, bound to the project.
    """

    kinds = models.JSONField(default=list, blank=True, help_text="Built-in recognisers switched on.")
    placeholder_style = models.CharField(max_length=8, choices=PlaceholderStyle.choices, default=PlaceholderStyle.PLAIN)
    patterns = models.JSONField(default=list, blank=True, help_text='Customer patterns: [{"name", "regex"}].')
    hash_key = models.BinaryField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta(ProjectOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["project"], name="projects_redactionsettings_project_uniq")]

    @staticmethod
    def sealed_hash_key(project_id, key: bytes) -> bytes:
        return seal(key, context=_redaction_key_context(project_id))

    def unsealed_hash_key(self) -> bytes:
        """Raises ``apps.core.sealing.Unsealable``."""
        return unseal(self.hash_key, context=_redaction_key_context(self.project_id))


sealing.register_binary(
    "api_key.signing_key", model=ApiKey, field="signing_key", context=lambda key: _signing_context(key.key_id)
)
sealing.register_binary(
    "redaction.hash_key", model=RedactionSettings, field="hash_key", context=lambda row: _redaction_key_context(row.project_id)
)
