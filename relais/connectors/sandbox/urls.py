from django.urls import path

from relais.connectors.sandbox import views

app_name = "sandbox"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:account_id>/", views.timeline, name="timeline"),
    path("<int:account_id>/dm/<str:handle>/", views.private, name="private"),
]
