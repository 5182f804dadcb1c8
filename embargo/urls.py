from django.urls import path

from embargo.views import (
    acknowledge,
    cases,
    negotiation,
    notices,
    packages,
    public,
    scoring,
    variation,
)

app_name = "embargo"

urlpatterns = [
    # The security team (under /staff/, so the MFA middleware applies).
    path("staff/cases/", cases.case_list_view, name="case_list"),
    path("staff/cases/new/", cases.case_create_view, name="case_create"),
    path("staff/cases/<int:pk>/", cases.case_detail_view, name="case_detail"),
    path("staff/cases/<int:pk>/edit/", cases.case_edit_view, name="case_edit"),
    path("staff/cases/<int:pk>/state/", cases.case_transition_view, name="case_transition"),
    path("staff/cases/<int:pk>/reject/", cases.case_reject_view, name="case_reject"),
    # One page per version of the standard; the version is part of the route, not a
    # value taken from the URL.
    path(
        "staff/cases/<int:pk>/cvss-3.1/",
        scoring.case_cvss_view,
        {"version": "3.1"},
        name="case_cvss_3_1",
    ),
    path(
        "staff/cases/<int:pk>/cvss-4.0/",
        scoring.case_cvss_view,
        {"version": "4.0"},
        name="case_cvss_4_0",
    ),
    path(
        "staff/cases/<int:pk>/disclosure/",
        cases.case_disclosure_move_view,
        name="case_disclosure_move",
    ),
    path("staff/cases/<int:pk>/disclose/", cases.case_disclose_view, name="case_disclose"),
    # Negotiating the disclosure date; the proposal answered travels in the POST body.
    path(
        "staff/cases/<int:pk>/disclosure-date/",
        negotiation.case_negotiation_view,
        name="case_negotiation",
    ),
    path(
        "staff/cases/<int:pk>/disclosure-date/propose/",
        negotiation.case_proposal_make_view,
        name="case_proposal_make",
    ),
    path(
        "staff/cases/<int:pk>/disclosure-date/answer/",
        negotiation.case_proposal_answer_view,
        name="case_proposal_answer",
    ),
    path(
        "staff/cases/<int:pk>/disclosure-date/set/",
        negotiation.case_disclosure_date_set_view,
        name="case_disclosure_date_set",
    ),
    path(
        "staff/cases/<int:pk>/first-response/",
        cases.case_first_response_view,
        name="case_first_response",
    ),
    path("staff/cases/<int:pk>/advisory/", cases.advisory_preview_view, name="advisory_preview"),
    # Packages, ranges and the fix; the row concerned travels in the POST body.
    path(
        "staff/cases/<int:pk>/packages/add/",
        packages.case_package_add_view,
        name="case_package_add",
    ),
    path(
        "staff/cases/<int:pk>/packages/remove/",
        packages.case_package_remove_view,
        name="case_package_remove",
    ),
    path(
        "staff/cases/<int:pk>/packages/ranges/add/",
        packages.case_range_add_view,
        name="case_range_add",
    ),
    path(
        "staff/cases/<int:pk>/packages/ranges/remove/",
        packages.case_range_remove_view,
        name="case_range_remove",
    ),
    path(
        "staff/cases/<int:pk>/packages/references/add/",
        packages.case_fix_reference_add_view,
        name="case_fix_reference_add",
    ),
    path(
        "staff/cases/<int:pk>/packages/references/remove/",
        packages.case_fix_reference_remove_view,
        name="case_fix_reference_remove",
    ),
    path(
        "staff/cases/<int:pk>/packages/fix/",
        packages.case_fix_state_view,
        name="case_fix_state",
    ),
    path("staff/cases/<int:pk>/notices/new/", notices.notice_create_view, name="notice_create"),
    path("staff/notices/<int:pk>/", notices.notice_detail_view, name="notice_detail"),
    path(
        "staff/notices/<int:pk>/copies.csv",
        notices.notice_deliveries_csv_view,
        name="notice_deliveries_csv",
    ),
    path("staff/notices/<int:pk>/edit/", notices.notice_edit_view, name="notice_edit"),
    path("staff/notices/<int:pk>/preview/", notices.notice_preview_view, name="notice_preview"),
    path("staff/notices/<int:pk>/send/", notices.notice_send_view, name="notice_send"),
    path(
        "staff/notices/<int:pk>/variation/",
        variation.notice_variation_view,
        name="notice_variation",
    ),
    path("staff/notices/<int:pk>/catch-up/", notices.notice_catch_up_view, name="notice_catch_up"),
    # Recipients: reference codes and dates only, never embargoed text.
    path("notices/", acknowledge.my_notices_view, name="my_notices"),
    # A need-to-know person's side of the negotiation (MFA); ids in the POST body only.
    path("notices/dates/", negotiation.member_negotiations_view, name="member_negotiations"),
    path(
        "notices/dates/propose/",
        negotiation.member_proposal_make_view,
        name="member_proposal_make",
    ),
    path(
        "notices/dates/answer/",
        negotiation.member_proposal_answer_view,
        name="member_proposal_answer",
    ),
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
