from django.urls import path

from . import views

app_name = "reviews"
urlpatterns = [
    path("reviews/drills/<int:pk>/", views.drill_review, name="drill_review"),
    path("reviews/drills/<int:pk>/checklist/<int:position>/", views.checklist_tick, name="checklist_tick"),
    path("reviews/drills/<int:pk>/lessons/new/", views.lesson_new, name="lesson_new"),
    path("reviews/drills/<int:pk>/report/", views.report_page, name="report"),
    path("reviews/drills/<int:pk>/report/sign-off/", views.report_sign_off, name="report_sign_off"),
    path("reviews/drills/<int:pk>/report/independent-tester/", views.report_independent_tester,
         name="report_independent_tester"),
    path("reviews/drills/<int:pk>/report/revisions/<int:number>/", views.report_revision, name="report_revision"),
    path("reviews/drills/<int:pk>/report.pdf", views.report_pdf_download, name="report_pdf"),
    path("reviews/drills/<int:pk>/evidence.zip", views.evidence_zip_download, name="evidence_zip"),
    path("reviews/lessons/<int:pk>/actions/new/", views.action_item_new, name="action_item_new"),
    path("reviews/actions/", views.action_item_list, name="action_item_list"),
    path("reviews/actions/open/", views.open_action_items_partial, name="open_action_items"),
    path("reviews/actions/<int:pk>/confirm/", views.action_item_confirm, name="action_item_confirm"),
    path("reviews/actions/<int:pk>/acknowledge/", views.action_item_acknowledge, name="action_item_acknowledge"),
    path("reviews/actions/<int:pk>/status/", views.action_item_status, name="action_item_status"),
    path("reviews/checklist/", views.checklist_template, name="checklist_template"),
    path("reviews/checklist/add/", views.checklist_template_add, name="checklist_template_add"),
    path("reviews/checklist/<int:pk>/", views.checklist_template_update, name="checklist_template_update"),
]
