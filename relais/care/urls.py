from django.urls import path

from relais.care import views
from relais.care.urls_routing import urlpatterns as routing_urlpatterns

app_name = "care"
urlpatterns = [
    path("", views.home, name="home"),
    path("status/", views.set_status, name="status"),
    path("alerts/<int:alert_id>/clear/", views.alert_clear, name="alert_clear"),
    path("shifts/", views.shifts, name="shifts"),
    path("teams/<int:team_id>/shifts/add/", views.shift_add, name="shift_add"),
    path("shifts/<int:shift_id>/delete/", views.shift_delete, name="shift_delete"),
    path("teams/<int:team_id>/exceptions/add/", views.exception_add, name="exception_add"),
    path("exceptions/<int:exception_id>/delete/", views.exception_delete, name="exception_delete"),
    path("sla/", views.sla, name="sla"),
    path("sla/policies/add/", views.policy_save, name="policy_add"),
    path("sla/policies/<int:policy_id>/", views.policy_save, name="policy_save"),
    path("sla/policies/<int:policy_id>/delete/", views.policy_delete, name="policy_delete"),
    path("sla/hours/add/", views.hours_add, name="hours_add"),
    path("sla/hours/<int:hours_id>/delete/", views.hours_delete, name="hours_delete"),
    path("sla/holidays/add/", views.holiday_add, name="holiday_add"),
    path("sla/holidays/<int:holiday_id>/delete/", views.holiday_delete, name="holiday_delete"),
    path("analytics/", views.analytics, name="analytics"),
    path("analytics.csv", views.analytics_csv, name="analytics_csv"),
    path("report/", views.report, name="report"),
]
urlpatterns += routing_urlpatterns  # routing part
