"""``manage.py rotate_secret_key``: every registered sealed field re-sealed under the new key
(the old one as a fallback), counted per kind, a second run a no-op; the values open under the
new key alone afterwards, and a value under an unknown key is reported, not destroyed."""

import json
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import CommandError, call_command

from apps.accounts.adapters import MfaAdapter
from apps.core import sealing
from apps.core.audit import SYSTEM
from apps.core.sealing import Unsealable, seal
from apps.detection.models import JudgeSettings, judge_key_context
from apps.experiments.models import Experiment
from apps.projects.models import ApiKey, RedactionSettings
from apps.projects.redaction import redaction_settings_save
from tests.factories.accounts import UserFactory
from tests.factories.experiments import dataset_with_cases, experiment
from tests.factories.projects import ApiKeyFactory

pytestmark = pytest.mark.django_db

OLD, NEW = "old-secret-key-" + "o" * 40, "new-secret-key-" + "n" * 40


def _rotate() -> dict:
    out = StringIO()
    call_command("rotate_secret_key", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_every_sealed_field_registers_itself():
    assert set(sealing.REGISTRY) == {
        "api_key.signing_key", "experiment.endpoint_secret", "mfa.authenticator", "redaction.hash_key", "judge.api_key",
    }


def test_rotation_reseals_everything_and_is_idempotent(project, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    api_key = ApiKeyFactory(project=project)
    signing_key = api_key.link_signing_key()
    run = experiment(project=project, dataset=dataset_with_cases(project=project))
    run.endpoint_secret = seal(b"endpoint-secret", context=f"experiment-endpoint:{run.pk}")
    run.save(update_fields=["endpoint_secret"])
    user = UserFactory()
    totp = Authenticator.objects.create(user=user, type="totp", data={"secret": MfaAdapter().encrypt("JBSWY3DPEHPK3PXP")})
    legacy = Authenticator.objects.create(user=UserFactory(), type="recovery_codes", data={"seed": "ab" * 40, "used_mask": 0})
    assert "JBSWY3DP" not in json.dumps(totp.data)
    redaction_settings_save(project=project, kinds=["email"], placeholder_style="keyed", patterns=[], actor=SYSTEM)
    hash_key = RedactionSettings.objects.for_project(project).get().unsealed_hash_key()
    JudgeSettings.objects.create(project=project, api_key=seal(b"sk-judge", context=judge_key_context(project.pk)))

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    first = _rotate()
    second = _rotate()

    assert first == {
        "api_key.signing_key": {"resealed": 1, "current": 0, "unopenable": 0},
        "experiment.endpoint_secret": {"resealed": 1, "current": 0, "unopenable": 0},
        "mfa.authenticator": {"resealed": 2, "current": 0, "unopenable": 0},
        "redaction.hash_key": {"resealed": 1, "current": 0, "unopenable": 0},
        "judge.api_key": {"resealed": 1, "current": 0, "unopenable": 0},
    }
    assert second == {
        "api_key.signing_key": {"resealed": 0, "current": 1, "unopenable": 0},
        "experiment.endpoint_secret": {"resealed": 0, "current": 1, "unopenable": 0},
        "mfa.authenticator": {"resealed": 0, "current": 2, "unopenable": 0},
        "redaction.hash_key": {"resealed": 0, "current": 1, "unopenable": 0},
        "judge.api_key": {"resealed": 0, "current": 1, "unopenable": 0},
    }
    settings.SECRET_KEY_FALLBACKS = []  # the old key is gone: everything opens under the new one alone
    assert ApiKey.all_tenants.get(pk=api_key.pk).link_signing_key() == signing_key
    assert Experiment.all_tenants.get(pk=run.pk).endpoint_secret_plain() == "endpoint-secret"
    assert MfaAdapter().decrypt(Authenticator.objects.get(pk=totp.pk).data["secret"]) == "JBSWY3DPEHPK3PXP"
    assert RedactionSettings.objects.for_project(project).get().unsealed_hash_key() == hash_key
    assert JudgeSettings.objects.for_project(project).get().api_key_plain() == "sk-judge"
    legacy.refresh_from_db()
    assert legacy.data["seed"].startswith(sealing.TEXT_PREFIX) and MfaAdapter().decrypt(legacy.data["seed"]) == "ab" * 40
    assert legacy.data["used_mask"] == 0


def test_a_value_under_an_unknown_key_is_reported_and_kept(project, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    api_key = ApiKeyFactory(project=project)
    before = bytes(api_key.signing_key)
    settings.SECRET_KEY = NEW

    with pytest.raises(CommandError):
        call_command("rotate_secret_key", stdout=StringIO())

    assert bytes(ApiKey.all_tenants.get(pk=api_key.pk).signing_key) == before
    with pytest.raises(Unsealable):
        ApiKey.all_tenants.get(pk=api_key.pk).link_signing_key()
