from django.urls import path

from . import views

app_name = "plans"
urlpatterns = [
    path("plans/", views.plan_list, name="plan_list"),
    path("plans/import/", views.plan_import, name="plan_import"),
    # What plans add to a drill's page, loaded from it with htmx: its plan drill, its failover or failbacks.
    path("plans/for-drill/<int:pk>/", views.drill_panel, name="drill_panel"),
    path("plans/for-drill/<int:pk>/failback/", views.failback_start, name="failback_start"),
    path("plans/<slug:slug>/", views.plan_detail, name="plan_detail"),
    path("plans/<slug:slug>/export.yaml", views.plan_export, name="plan_export"),
    path("plans/<slug:slug>/start/", views.plan_drill_start, name="plan_drill_start"),
    path("plan-drills/<int:pk>/", views.plan_drill_detail, name="plan_drill_detail"),
    path("plan-drills/<int:pk>/abort/", views.plan_drill_abort, name="plan_drill_abort"),
]
