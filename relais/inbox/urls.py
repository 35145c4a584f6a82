from django.urls import path

from relais.inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.conversation_list_view, name="list"),
    path("bulk/", views.bulk_view, name="bulk"),
    path("c/<int:conversation_id>/", views.conversation_view, name="conversation"),
    path("c/<int:conversation_id>/thread/", views.thread_view, name="thread"),
    path("c/<int:conversation_id>/reply/", views.reply_view, name="reply"),
    path("c/<int:conversation_id>/assign/", views.assign_view, name="assign"),
    path("c/<int:conversation_id>/status/", views.status_view, name="status"),
    path("c/<int:conversation_id>/note/", views.note_view, name="note"),
    path("c/<int:conversation_id>/presence/", views.presence_view, name="presence"),
    path("c/<int:conversation_id>/triage/", views.triage_view, name="triage"),
    path("m/<int:message_id>/retry/", views.retry_view, name="retry"),
]
