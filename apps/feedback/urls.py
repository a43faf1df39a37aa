from django.urls import path

from apps.feedback.views import FeedbackWidgetView

urlpatterns = [
    path("f/<str:token>", FeedbackWidgetView.as_view(), name="feedback_widget"),
]
