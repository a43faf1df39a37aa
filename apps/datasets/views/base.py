"""The dataset named in a page's URL, resolved in the project before roles are checked: another
project's dataset and a missing one are the same 404."""

from __future__ import annotations

from django.http import Http404

from apps.core.errors import NotFound
from apps.core.roles import Role, role_at_least
from apps.datasets.selectors import datasets as selectors
from apps.projects.tenancy import ProjectViewMixin


def found(function, **kwargs):
    """A selector's result, with its ``NotFound`` as the page's 404."""
    try:
        return function(**kwargs)
    except NotFound as error:
        raise Http404(error.message) from None


class DatasetViewMixin(ProjectViewMixin):
    def resolve_tenant(self, request, **kwargs) -> None:
        super().resolve_tenant(request, **kwargs)
        self.dataset = found(selectors.dataset_get, project=self.project, dataset_id=kwargs["dataset"])

    @property
    def can_edit(self) -> bool:
        return role_at_least(self.membership.role, Role.REVIEWER)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(tab="datasets", dataset=self.dataset, can_edit=self.can_edit)
        return context
