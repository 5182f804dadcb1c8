from django.urls import path

from distributors.views import applications, review

app_name = "distributors"

urlpatterns = [
    path("apply/", applications.organization_apply_view, name="apply"),
    path("applications/<int:pk>/", applications.application_detail_view, name="application_detail"),
    path(
        "applications/<int:pk>/criteria/<int:number>/",
        applications.criterion_answer_view,
        name="criterion_answer",
    ),
    path(
        "applications/<int:pk>/submit/",
        applications.application_submit_view,
        name="application_submit",
    ),
    path(
        "applications/<int:pk>/withdraw/",
        applications.application_withdraw_view,
        name="application_withdraw",
    ),
    path(
        "applications/<int:pk>/questions/<int:question_pk>/reply/",
        applications.question_reply_view,
        name="question_reply",
    ),
    path(
        "organizations/<slug:slug>/apply-again/",
        applications.application_start_view,
        name="application_start",
    ),
    path("staff/applications/", review.review_queue_view, name="review_queue"),
    path("staff/applications/<int:pk>/", review.review_detail_view, name="review_detail"),
    path(
        "staff/applications/<int:pk>/criteria/",
        review.criteria_review_view,
        name="criteria_review",
    ),
    path(
        "staff/applications/<int:pk>/criteria/<int:number>/",
        review.criterion_review_view,
        name="criterion_review",
    ),
    path("staff/applications/<int:pk>/ask/", review.application_ask_view, name="application_ask"),
    path(
        "staff/applications/<int:pk>/decide/",
        review.application_decide_view,
        name="application_decide",
    ),
]

# The embargo policy and vouching (criteria 6 and 7).
from distributors.views import policy as policy_views  # noqa: E402
from distributors.views import vouching as vouching_views  # noqa: E402

urlpatterns += [
    path("policy/", policy_views.policy_view, name="policy"),
    path("staff/policy/", policy_views.staff_policy_view, name="staff_policy"),
    path(
        "staff/policy/<int:number>/",
        policy_views.staff_policy_version_view,
        name="staff_policy_version",
    ),
    path("vouches/", vouching_views.vouch_list_view, name="vouch_list"),
    path("vouches/<int:pk>/", vouching_views.vouch_detail_view, name="vouch_detail"),
    path(
        "applications/<int:pk>/vouches/",
        vouching_views.vouch_request_view,
        name="vouch_request",
    ),
    path(
        "applications/<int:pk>/vouches/<int:vouch_pk>/withdraw/",
        vouching_views.vouch_withdraw_view,
        name="vouch_withdraw",
    ),
    path("staff/vouches/", vouching_views.vouch_graph_view, name="vouch_graph"),
]

# Need-to-know teams, invitations, a person's checklist and PGP keys.
from distributors.views import keys as key_views  # noqa: E402
from distributors.views import team as team_views  # noqa: E402

urlpatterns += [
    path("organizations/<slug:slug>/team/", team_views.team_view, name="team"),
    path(
        "organizations/<slug:slug>/team/invite/",
        team_views.invitation_create_view,
        name="invitation_create",
    ),
    path(
        "organizations/<slug:slug>/team/invitations/<int:pk>/revoke/",
        team_views.invitation_revoke_view,
        name="invitation_revoke",
    ),
    path(
        "organizations/<slug:slug>/team/<int:pk>/update/",
        team_views.team_member_update_view,
        name="team_member_update",
    ),
    path(
        "organizations/<slug:slug>/team/<int:pk>/remove/",
        team_views.team_member_remove_view,
        name="team_member_remove",
    ),
    path(
        "organizations/<slug:slug>/team/vouch-listing/",
        team_views.vouch_listing_view,
        name="vouch_listing",
    ),
    path("invitations/<str:token>/", team_views.invitation_view, name="invitation"),
    path("staff/organizations/", team_views.staff_organizations_view, name="staff_organizations"),
    path("staff/members.csv", team_views.staff_members_csv_view, name="staff_members_csv"),
    path(
        "staff/organizations/<slug:slug>/team/",
        team_views.staff_team_view,
        name="staff_team",
    ),
    path("me/", key_views.me_view, name="me"),
    path("me/keys/", key_views.keys_view, name="keys"),
    path("me/keys/<int:pk>/prove/", key_views.key_prove_view, name="key_prove"),
    path("me/keys/<int:pk>/challenge/", key_views.key_challenge_view, name="key_challenge"),
    path("me/keys/<int:pk>/revoke/", key_views.key_revoke_view, name="key_revoke"),
]

# A plain statement of a suspension or removal (issue 5).
from distributors.views import standing as standing_views  # noqa: E402

urlpatterns += [path("me/standing/", standing_views.standing_view, name="standing")]
urlpatterns += [
    path("staff/bars/", standing_views.staff_bars_view, name="staff_bars"),
    path("staff/bars/<int:pk>/lift/", standing_views.staff_bar_lift_view, name="staff_bar_lift"),
]
