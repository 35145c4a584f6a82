from django.urls import path  # noqa: F401 - the part's pages are added here

from relais.care.urls_routing import urlpatterns as routing_urlpatterns

app_name = "care"
urlpatterns: list = []
urlpatterns += routing_urlpatterns  # routing part
