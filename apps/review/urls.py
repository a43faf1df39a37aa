from django.urls import path

from apps.review import views

project_prefix = "orgs/<slug:org>/projects/<uuid:project>"
prefix = f"{project_prefix}/queues"
urlpatterns = [
    path(f"{prefix}/", views.QueueListView.as_view(), name="review_queue_list"),
    path(f"{prefix}/<int:queue>/", views.QueueSettingsView.as_view(), name="review_queue_settings"),
    path(f"{prefix}/<int:queue>/review/", views.ReviewView.as_view(), name="review_queue_review"),
    path(f"{prefix}/<int:queue>/items/<int:item>/assign/", views.QueueItemAssignView.as_view(), name="review_item_assign"),
    path(f"{project_prefix}/taxonomy/", views.TaxonomyView.as_view(), name="review_taxonomy"),
]
