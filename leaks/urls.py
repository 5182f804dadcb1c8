from django.urls import path

from leaks import views

app_name = "leaks"

urlpatterns = [
    path("leaks/", views.leak_list_view, name="leak_list"),
    path("leaks/new/", views.leak_create_view, name="leak_create"),
    path("leaks/<int:pk>/", views.leak_detail_view, name="leak_detail"),
    path(
        "leaks/sanctions/<int:pk>/retrospective/",
        views.retrospective_view,
        name="retrospective",
    ),
    path("staff/leaks/", views.staff_leak_dashboard_view, name="staff_leak_dashboard"),
    path("staff/leaks/<int:pk>/", views.staff_leak_detail_view, name="staff_leak_detail"),
    path("staff/leaks/<int:pk>/confirm/", views.staff_leak_confirm_view, name="staff_leak_confirm"),
    path("staff/leaks/<int:pk>/dismiss/", views.staff_leak_dismiss_view, name="staff_leak_dismiss"),
    path(
        "staff/leaks/<int:pk>/disclosure/",
        views.staff_leak_disclosure_view,
        name="staff_leak_disclosure",
    ),
    path("staff/cases/<int:pk>/leaks/new/", views.staff_leak_create_view, name="staff_leak_create"),
    path("staff/cases/<int:pk>/trace/", views.staff_trace_view, name="staff_trace"),
    path(
        "staff/notices/<int:pk>/tracing/",
        views.staff_notice_tracing_view,
        name="staff_notice_tracing",
    ),
    path(
        "staff/organizations/<slug:slug>/leaks/",
        views.staff_organization_leaks_view,
        name="staff_organization_leaks",
    ),
    path(
        "staff/organizations/<slug:slug>/sanction/",
        views.staff_organization_sanction_view,
        name="staff_organization_sanction",
    ),
    path(
        "staff/sanctions/<int:pk>/lift/", views.staff_sanction_lift_view, name="staff_sanction_lift"
    ),
]
