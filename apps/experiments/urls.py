from django.urls import path  # noqa: F401 - pages are added with the app's views

urlpatterns: list = []
