from django.contrib import admin

from apps.core.admin import ReadOnlyTenantAdmin
from apps.problems.models import Problem


@admin.register(Problem)
class ProblemAdmin(ReadOnlyTenantAdmin):
    list_display = ("title", "project", "status", "turn_count", "user_count", "pain", "cause_state")
    list_filter = ("status", "cause_state")
    search_fields = ("title",)
    exclude = ("centroid",)
