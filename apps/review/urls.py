from django.urls import path

from apps.review import views

prefix = "orgs/<slug:org>/projects/<uuid:project>/queues"
urlpatterns = [
    path(f"{prefix}/", views.QueueListView.as_view(), name="review_queue_list"),
    path(f"{prefix}/<int:queue>/", views.QueueSettingsView.as_view(), name="review_queue_settings"),
    path(f"{prefix}/<int:queue>/review/", views.ReviewView.as_view(), name="review_queue_review"),
]
