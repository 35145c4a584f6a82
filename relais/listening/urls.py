from django.urls import path

from relais.listening import views

app_name = "listening"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("monitors/new/", views.monitor_new, name="monitor_new"),
    path("monitors/<int:monitor_id>/", views.monitor_detail, name="monitor"),
    path("monitors/<int:monitor_id>/edit/", views.monitor_edit, name="monitor_edit"),
    path("monitors/<int:monitor_id>/delete/", views.monitor_delete, name="monitor_delete"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert"),
    path("alerts/<int:alert_id>/ack/", views.alert_ack, name="alert_ack"),
    path("alerts/<int:alert_id>/close/", views.alert_close, name="alert_close"),
    path("crisis/", views.crisis, name="crisis"),
]
