from django.urls import path

from intake import views

app_name = "intake"

urlpatterns = [
    # Public, no sign-in: the form, and each report's page behind its link's token.
    path("report/", views.report_new_view, name="report_new"),
    path("report/<str:reference>/<str:token>/", views.report_track_view, name="report_track"),
    path("report/<str:reference>/<str:token>/dates/", views.report_dates_view, name="report_dates"),
    # The security team (under /staff/, so the MFA middleware applies).
    path("staff/reports/", views.staff_queue_view, name="staff_queue"),
    path("staff/reports/<int:pk>/", views.staff_report_view, name="staff_report"),
    path("staff/reports/<int:pk>/decide/", views.staff_report_decide_view, name="staff_decide"),
    path("staff/reports/<int:pk>/reply/", views.staff_report_reply_view, name="staff_reply"),
    path(
        "staff/reports/<int:pk>/files/<int:attachment_pk>/",
        views.staff_attachment_view,
        name="staff_attachment",
    ),
]
