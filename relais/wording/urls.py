from django.urls import path  # noqa: F401 - the part's pages are added here

app_name = "wording"
urlpatterns: list = []
