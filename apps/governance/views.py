from django import forms
from django.core.paginator import Paginator
from django.views.generic import TemplateView

from apps.core.roles import Role
from apps.organizations.tenancy import OrganizationViewMixin
from apps.core.audit import AuditAction
from apps.governance.selectors import audit_actor_choices, audit_event_list


class AuditFilterForm(forms.Form):
    actor = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *AuditAction.choices])

    def __init__(self, *args, actors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "Anyone"), *actors]


class AuditLogView(OrganizationViewMixin, TemplateView):
    template_name = "governance/audit_log.html"
    required_role = {"GET": Role.ADMIN}
    page_size = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = AuditFilterForm(self.request.GET or None, actors=audit_actor_choices(organization=self.organization))
        filters = form.cleaned_data if form.is_valid() else {}
        events = audit_event_list(
            organization=self.organization, actor_id=filters.get("actor"), action=filters.get("action") or None
        )
        page = Paginator(events, self.page_size).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(filter_form=form, page=page, events=page.object_list, query=query.urlencode())
        return context
