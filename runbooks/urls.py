from django.urls import path

from . import views

app_name = "runbooks"
urlpatterns = [
    path("systems/", views.system_list, name="system_list"),
    path("systems/<slug:slug>/", views.system_detail, name="system_detail"),
    path("systems/<slug:slug>/environment-changes/<int:pk>/decide/", views.environment_change_decide,
         name="environment_change_decide"),
    path("runbooks/", views.runbook_list, name="runbook_list"),
    path("runbooks/import/", views.runbook_import, name="runbook_import"),
    path("runbooks/export.yaml", views.runbook_export, name="runbook_export_all"),
    path("runbooks/format.md", views.runbook_format, name="runbook_format"),
    path("runbooks/<slug:slug>/", views.runbook_detail, name="runbook_detail"),
    path("runbooks/<slug:slug>/export.yaml", views.runbook_export, name="runbook_export"),
    path("runbooks/<slug:slug>/edit/", views.runbook_edit, name="runbook_edit"),
]
