from django.urls import path

from relais.publishing.editorial import views as editorial
from relais.publishing.subscribers import views as subscribers

app_name = "publishing"
urlpatterns: list = [
    # Part 2 of issue 7: the calendar, the neutrality report, subscribers.
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
