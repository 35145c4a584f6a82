from django.urls import path

from relais.publishing import views_alert
from relais.publishing.editorial import views as editorial
from relais.publishing.subscribers import views as subscribers

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
    # The calendar, the neutrality report, subscribers (publishing part 2).
    path("calendar/", editorial.calendar_view, name="calendar"),
    path("posts/new/", editorial.post_new_view, name="post_new"),
    path("posts/<int:pk>/", editorial.post_view, name="post"),
    path("posts/<int:pk>/<str:action>/", editorial.post_action_view, name="post_action"),
    path("neutrality/", editorial.neutrality_view, name="neutrality"),
    path("neutrality.csv", editorial.neutrality_csv_view, name="neutrality_csv"),
    path("neutrality/people/", editorial.neutrality_people_view, name="neutrality_people"),
    path("subscribers/", subscribers.subscribers_view, name="subscribers"),
    # Public, no sign-in: an organisation's subscription pages.
    path("s/<slug:slug>/", subscribers.subscribe_view, name="subscribe"),
    path("s/<slug:slug>/confirm/", subscribers.subscribe_confirm_view, name="subscribe_confirm"),
    path(
        "s/<slug:slug>/email/<str:token>/",
        subscribers.subscribe_email_confirm_view,
        name="subscribe_email_confirm",
    ),
    path(
        "s/<slug:slug>/unsubscribe/<str:token>/", subscribers.unsubscribe_view, name="unsubscribe"
    ),
]
