"""URL map: each part mounts its own URLs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from relais.api.api import api
from relais.channels.webhooks import webhook
from relais.realtime.views import events

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox:list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("inbox/", include("relais.inbox.urls")),
    path("incidents/", include("relais.incidents.urls")),
    path("publishing/", include("relais.publishing.urls")),
    path("templates/", include("relais.wording.urls")),
    path("care/", include("relais.care.urls")),
    path("listening/", include("relais.listening.urls")),
    path("events/", events, name="events"),
    path("", include("relais.incidents.public_urls")),  # passenger feeds, public pages
    path("sandbox/", include("relais.connectors.sandbox.urls")),
    path("api/", api.urls),
    path("webhooks/<slug:kind>/<int:account_id>/", webhook, name="webhook"),
    path("admin/", admin.site.urls),
]
