from django.urls import path

from relais.wording import views

app_name = "wording"
urlpatterns = [
    path("", views.template_list_view, name="list"),
    path("new/", views.template_new_view, name="new"),
    path("<int:template_id>/", views.template_detail_view, name="detail"),
    path("<int:template_id>/edit/", views.template_edit_view, name="edit"),
    path("<int:template_id>/approve/", views.template_approve_view, name="approve"),
    path("<int:template_id>/retire/", views.template_retire_view, name="retire"),
]
