"""URLs of the routing part, included in relais/care/urls.py (namespace `care`)."""

from django.urls import path

from relais.care import views_routing as views

urlpatterns = [
    path("rules/", views.rules_view, name="routing_rules"),
    path("rules/new/", views.rule_edit_view, name="routing_rule_new"),
    path("rules/<int:rule_id>/", views.rule_edit_view, name="routing_rule"),
    path("rules/<int:rule_id>/delete/", views.rule_delete_view, name="routing_rule_delete"),
    path("rules/<int:rule_id>/move/", views.rule_move_view, name="routing_rule_move"),
    path("rules/<int:rule_id>/try/", views.rule_try_view, name="routing_rule_try"),
    path("c/<int:conversation_id>/replies/", views.saved_replies_view, name="routing_replies"),
    path("c/<int:conversation_id>/lock/", views.lock_view, name="routing_lock"),
    path("c/<int:conversation_id>/unlock/", views.unlock_view, name="routing_unlock"),
    path("c/<int:conversation_id>/flags/", views.flags_view, name="routing_flags"),
    path("c/<int:conversation_id>/operator/", views.operator_reports_view, name="routing_operator"),
    path("c/<int:conversation_id>/customer/", views.customer_lookup_view, name="routing_customer"),
]
