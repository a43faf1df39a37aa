"""The per-project detector settings page: members read it, admins change it.

Besides each detector's settings it shows the precision reviewers have confirmed so far (from
review, a floor above, through the ``review.detector_precision`` hook) and the LLM judge: its
settings, a connection test, its usage and its agreement with the rule detectors.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from apps.core import hooks
from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.projects.tenancy import ProjectViewMixin
from apps.detection import selectors
from apps.detection import judge
from apps.detection.services import judge as judge_services
from apps.detection.services import settings as services
from apps.detection.config import DETECTORS, effective_config
from apps.core.audit import Actor

HELP = {
    "rephrase": "The next user message in the same session asks the same thing in other words.",
    "abandonment": "The session's last turn got no further user action within the window.",
    "escalation": "The user asks for a human, a call back or a manager (typos tolerated; quoted, negated and "
                  "support-hours questions do not count), or an escalation signal was reported. Extra request "
                  "phrases: one per line.",
    "agent_punted": "The answer declines or deflects without helping: one of these phrases (one per line, whole "
                    "words, any case), a refusal, or a vague non-answer; clarifying questions and answers that help "
                    "and then mention support do not count.",
    "frustration": "The user says the agent is not helping: annoyance, sarcasm, \"you already said that\", shouting "
                   "(not frustration at their own situation, not acronyms).",
    "factual_claim": "The answer states a price, an amount, a date or deadline, or a promise worth auditing "
                     "(ids, versions and the user's own numbers do not count). Not a failure.",
    "low_confidence": "A reported confidence (signal or metadata.confidence) below the threshold.",
    "recurrence": "The same end user comes back with the same issue within the window.",
    "knowledge_gap": "Retrieval returned nothing, or only documents scored below the minimum.",
    "tool_error": "A step or tool call failed.",
    "random_sample": "A deterministic percentage of turns, for unbiased review.",
}


class DetectorSettingsView(ProjectViewMixin, TemplateView):
    template_name = "detection/settings.html"
    required_role = {"GET": Role.MEMBER, "POST": Role.ADMIN}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = selectors.detector_settings_list(project=self.project)
        config = effective_config(rows)
        precision = hooks.call("review.detector_precision", project=self.project)
        judge_settings = selectors.judge_settings_get(project=self.project)
        context.update(
            tab="detectors",
            detectors=[
                {
                    "name": name, "label": label, "help": HELP[name], "enabled": name in config.enabled,
                    "params": [
                        {"key": key, "value": "\n".join(value) if isinstance(value, list) else value,
                         "is_list": isinstance(value, list), "default": default}
                        for key, value in config.p(name).items() for default in [defaults[key]]
                    ],
                    "precision": precision.get(("detector", name)),
                }
                for name, (label, defaults) in DETECTORS.items()
            ],
            judge=judge_settings,
            judge_kinds=[
                {"kind": kind, "chosen": kind in judge_settings.signal_kinds, "default": judge.DEFAULT_PROMPTS[kind],
                 "prompt": judge.prompt_for(kind, judge_settings.prompts)}
                for kind in judge.JUDGED_KINDS
            ],
            judge_usage=selectors.judge_usage_totals(project=self.project, today=timezone.now().date()),
            judge_agreement=[
                {**row, "precision": precision.get(("llm_judge", row["kind"]))}
                for row in selectors.judge_agreement(project=self.project, settings=judge_settings)
            ],
            judge_test=kwargs.get("judge_test"),
            judge_test_error=kwargs.get("judge_test_error"),
            rules=selectors.detection_rule_list(project=self.project),
            rule_form=kwargs.get("rule_form", {}),
        )
        return context

    def post(self, request, org, project):
        action = request.POST.get("action", "")
        actor = Actor.from_request(request)
        try:
            if action == "detector":
                detector = request.POST.get("detector", "")
                defaults = DETECTORS.get(detector, (None, {}))[1]
                params = {key: request.POST[f"param_{key}"] for key in defaults if f"param_{key}" in request.POST}
                services.detector_settings_update(
                    project=self.project, detector=detector, enabled=request.POST.get("enabled") == "on",
                    params=params, actor=actor,
                )
                messages.success(request, f"Saved {DETECTORS[detector][0]}.")
            elif action == "judge":
                post = request.POST
                judge_services.judge_settings_update(
                    project=self.project, actor=actor, enabled=post.get("enabled") == "on",
                    endpoint_url=post.get("endpoint_url", ""), model=post.get("model", ""),
                    api_key="" if post.get("remove_key") == "on" else (post.get("api_key") or None),
                    signal_kinds=post.getlist("signal_kinds"),
                    prompts={kind: post.get(f"prompt_{kind}", "") for kind in judge.JUDGED_KINDS},
                    requests_per_minute=post.get("requests_per_minute"), turns_per_day=post.get("turns_per_day"),
                    price_per_1k_tokens=post.get("price_per_1k_tokens", "0"),
                )
                messages.success(request, "Saved the LLM judge.")
            elif action == "judge_test":
                try:
                    verdict = judge_services.judge_test_connection(project=self.project)
                except judge_services.JudgeUnavailable as error:  # the endpoint's failure, not the request's
                    return self.render_to_response(self.get_context_data(judge_test_error=error.message))
                return self.render_to_response(self.get_context_data(judge_test=verdict))
            elif action == "rule_create":
                services.detection_rule_create(
                    project=self.project, name=request.POST.get("name", ""), expression=request.POST.get("expression", ""),
                    signal_kind=request.POST.get("signal_kind", ""), actor=actor,
                )
                messages.success(request, "Rule created.")
            elif action == "rule_delete":
                services.detection_rule_delete(project=self.project, rule_id=_int(request.POST.get("rule")), actor=actor)
                messages.success(request, "Rule deleted.")
            else:
                return self.render_to_response(self.get_context_data(error="Unknown action."), status=400)
        except ServiceError as error:
            rule_form = request.POST if action == "rule_create" else {}
            return self.render_to_response(
                self.get_context_data(error=error.message, error_field=error.field, rule_form=rule_form), status=error.status
            )
        return redirect("detector_settings", org=org, project=project)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
