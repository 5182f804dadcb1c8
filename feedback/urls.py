from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    # A need-to-know person's feedback for their organisation (MFA); the organisation is an
    # id in the query or the POST body, checked against the person's own.
    path("notices/feedback/", views.member_list_view, name="member_list"),
    path("notices/feedback/<int:pk>/", views.member_case_view, name="member_case"),
    path("notices/feedback/<int:pk>/status/", views.member_status_view, name="member_status"),
    path(
        "notices/feedback/<int:pk>/tests/", views.member_patch_test_view, name="member_patch_test"
    ),
    path("notices/feedback/<int:pk>/messages/", views.member_message_view, name="member_message"),
    # The security team (under /staff/, so the MFA middleware applies).
    path("staff/cases/<int:pk>/feedback/", views.staff_matrix_view, name="staff_matrix"),
    path(
        "staff/cases/<int:pk>/feedback/<int:organization_pk>/",
        views.staff_organization_view,
        name="staff_organization",
    ),
    path(
        "staff/cases/<int:pk>/feedback/<int:organization_pk>/reply/",
        views.staff_reply_view,
        name="staff_reply",
    ),
]
