from django.urls import path

from .views import acknowledge, cases, notices, public

app_name = "embargo"

urlpatterns = [
    # The security team (under /staff/, so the MFA middleware applies).
    path("staff/cases/", cases.case_list_view, name="case_list"),
    path("staff/cases/new/", cases.case_create_view, name="case_create"),
    path("staff/cases/<int:pk>/", cases.case_detail_view, name="case_detail"),
    path("staff/cases/<int:pk>/edit/", cases.case_edit_view, name="case_edit"),
    path("staff/cases/<int:pk>/state/", cases.case_transition_view, name="case_transition"),
    path("staff/cases/<int:pk>/reject/", cases.case_reject_view, name="case_reject"),
    path(
        "staff/cases/<int:pk>/disclosure/",
        cases.case_disclosure_move_view,
        name="case_disclosure_move",
    ),
    path("staff/cases/<int:pk>/disclose/", cases.case_disclose_view, name="case_disclose"),
    path(
        "staff/cases/<int:pk>/first-response/",
        cases.case_first_response_view,
        name="case_first_response",
    ),
    path("staff/cases/<int:pk>/advisory/", cases.advisory_preview_view, name="advisory_preview"),
    path("staff/cases/<int:pk>/notices/new/", notices.notice_create_view, name="notice_create"),
    path("staff/notices/<int:pk>/", notices.notice_detail_view, name="notice_detail"),
    path("staff/notices/<int:pk>/edit/", notices.notice_edit_view, name="notice_edit"),
    path("staff/notices/<int:pk>/preview/", notices.notice_preview_view, name="notice_preview"),
    path("staff/notices/<int:pk>/send/", notices.notice_send_view, name="notice_send"),
    path("staff/notices/<int:pk>/catch-up/", notices.notice_catch_up_view, name="notice_catch_up"),
    # Recipients: reference codes and dates only, never embargoed text.
    path("notices/", acknowledge.my_notices_view, name="my_notices"),
    path(
        "notices/ack/<str:reference_code>/",
        acknowledge.acknowledge_view,
        name="acknowledge",
    ),
    # Public, no sign-in.
    path("advisories/", public.advisory_list_view, name="advisory_list"),
    path("advisories/<str:public_id>/", public.advisory_detail_view, name="advisory_detail"),
    path("security/team-key.asc", public.team_key_view, name="team_key"),
]

# Leak reports, sanctions and tracing (issue 5).
from .views import leaks  # noqa: E402

urlpatterns += [
    path("leaks/", leaks.leak_list_view, name="leak_list"),
    path("leaks/new/", leaks.leak_create_view, name="leak_create"),
    path("leaks/<int:pk>/", leaks.leak_detail_view, name="leak_detail"),
    path(
        "leaks/sanctions/<int:pk>/retrospective/",
        leaks.retrospective_view,
        name="retrospective",
    ),
    path("staff/leaks/", leaks.staff_leak_dashboard_view, name="staff_leak_dashboard"),
    path("staff/leaks/<int:pk>/", leaks.staff_leak_detail_view, name="staff_leak_detail"),
    path("staff/leaks/<int:pk>/confirm/", leaks.staff_leak_confirm_view, name="staff_leak_confirm"),
    path("staff/leaks/<int:pk>/dismiss/", leaks.staff_leak_dismiss_view, name="staff_leak_dismiss"),
    path(
        "staff/leaks/<int:pk>/disclosure/",
        leaks.staff_leak_disclosure_view,
        name="staff_leak_disclosure",
    ),
    path("staff/cases/<int:pk>/leaks/new/", leaks.staff_leak_create_view, name="staff_leak_create"),
    path("staff/cases/<int:pk>/trace/", leaks.staff_trace_view, name="staff_trace"),
    path(
        "staff/notices/<int:pk>/tracing/",
        leaks.staff_notice_tracing_view,
        name="staff_notice_tracing",
    ),
    path(
        "staff/organizations/<slug:slug>/leaks/",
        leaks.staff_organization_leaks_view,
        name="staff_organization_leaks",
    ),
    path(
        "staff/organizations/<slug:slug>/sanction/",
        leaks.staff_organization_sanction_view,
        name="staff_organization_sanction",
    ),
    path(
        "staff/sanctions/<int:pk>/lift/", leaks.staff_sanction_lift_view, name="staff_sanction_lift"
    ),
]
