from django.urls import path

from relais.publishing import views_alert

app_name = "publishing"
urlpatterns = [
    # The one-click alert and the publication page (incidents part).
    path("alert/", views_alert.alert_view, name="alert"),
    path("alert/publish/", views_alert.alert_publish_view, name="publish"),
    path("<int:publication_id>/", views_alert.publication_view, name="detail"),
    path(
        "<int:publication_id>/retry/<int:target_id>/",
        views_alert.target_retry_view,
        name="retry",
    ),
]
