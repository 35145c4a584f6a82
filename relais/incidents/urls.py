from django.urls import path

from relais.incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list_view, name="list"),
    path("new/", views.incident_new_view, name="new"),
    path("<int:incident_id>/", views.incident_detail_view, name="detail"),
    path("<int:incident_id>/edit/", views.incident_edit_view, name="edit"),
    path("<int:incident_id>/status/", views.incident_status_view, name="status"),
    path("<int:incident_id>/action/", views.incident_action_view, name="action"),
    path("<int:incident_id>/report/", views.incident_report_view, name="report"),
    path("<int:incident_id>/link/", views.incident_link_view, name="link"),
]
