from django.urls import path

from . import views

app_name = "plans"
urlpatterns = [
    path("plans/", views.plan_list, name="plan_list"),
    path("plans/import/", views.plan_import, name="plan_import"),
    path("plans/<slug:slug>/", views.plan_detail, name="plan_detail"),
    path("plans/<slug:slug>/export.yaml", views.plan_export, name="plan_export"),
    path("plans/<slug:slug>/start/", views.plan_drill_start, name="plan_drill_start"),
    path("plan-drills/<int:pk>/", views.plan_drill_detail, name="plan_drill_detail"),
    path("plan-drills/<int:pk>/abort/", views.plan_drill_abort, name="plan_drill_abort"),
]
