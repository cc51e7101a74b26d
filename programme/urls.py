from django.urls import path

from . import views

app_name = "programme"
urlpatterns = [
    path("programme/bia/", views.bia, name="bia"),
    path("programme/cadence/", views.cadence, name="cadence"),
    path("programme/cadence/update/", views.cadence_update, name="cadence_update"),
    path("programme/calendar/", views.calendar, name="calendar"),
    path("programme/calendar.ics", views.calendar_ics, name="calendar_ics"),
    path("programme/calendar/feed-link/", views.calendar_feed_link, name="calendar_feed_link"),
    path("programme/planned/", views.plan_create, name="plan_create"),
    path("programme/planned/<int:pk>/approve/", views.plan_approve, name="plan_approve"),
    path("programme/planned/<int:pk>/cancel/", views.plan_cancel, name="plan_cancel"),
    path("programme/notifications/", views.notifications, name="notifications"),
    path("programme/notifications/add/", views.subscription_create, name="subscription_create"),
    path("programme/notifications/<int:pk>/delete/", views.subscription_delete, name="subscription_delete"),
    path("programme/drills/<int:pk>/notifications/", views.drill_notifications, name="drill_notifications"),
    path("reports/", views.report_list, name="report_list"),
    path("reports/<str:quarter>/", views.report_page, name="report"),
    path("reports/<str:quarter>/report.<str:fmt>", views.report_download, name="report_download"),
    path("reports/<str:quarter>/charts/<slug:chart>.svg", views.report_chart, name="report_chart"),
    path("reports/<str:quarter>/archive/", views.report_archive, name="report_archive"),
    path("reports/<str:quarter>/archived.<str:fmt>", views.report_archived, name="report_archived"),
]
