from django.urls import path

from . import views

app_name = "drills"
urlpatterns = [
    path("drills/", views.drill_list, name="drill_list"),
    path("drills/history/", views.drill_history_partial, name="drill_history"),
    path("drills/running/", views.running_now_partial, name="running_now"),
    path("runbooks/<slug:slug>/start/", views.drill_start, name="drill_start"),
    path("drills/<int:pk>/", views.drill_detail, name="drill_detail"),
    path("drills/<int:pk>/progress/", views.drill_progress_partial, name="drill_progress"),
    path("drills/<int:pk>/evidence.json", views.drill_evidence, name="drill_evidence"),
    path("drills/<int:pk>/abort/", views.drill_abort, name="drill_abort"),
    path("drills/<int:pk>/approve/", views.drill_approve, name="drill_approve"),
    path("drills/<int:pk>/reject/", views.drill_reject, name="drill_reject"),
    path("drills/<int:pk>/steps/<int:position>/approve/", views.step_approve, name="step_approve"),
    path("drills/<int:pk>/steps/<int:position>/reject/", views.step_reject, name="step_reject"),
    path("drills/<int:pk>/steps/<int:position>/confirm/", views.step_confirm, name="step_confirm"),
    path("drills/<int:pk>/steps/<int:position>/retry/", views.step_retry, name="step_retry"),
    path("drills/<int:pk>/steps/<int:position>/skip/", views.step_skip, name="step_skip"),
    path("drills/<int:pk>/facilitate/", views.tabletop_facilitate, name="tabletop_facilitate"),
    path("drills/<int:pk>/walkthrough/", views.tabletop_partial, name="tabletop_partial"),
    path("drills/<int:pk>/items/<int:position>/mark/", views.tabletop_mark, name="tabletop_mark"),
    path("drills/<int:pk>/injects/release/", views.tabletop_release, name="tabletop_release"),
    path("drills/<int:pk>/end/", views.tabletop_end, name="tabletop_end"),
]
