from django.urls import path

from .views import applications, home, review

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

# The dashboard sits at the site root, outside the app namespace.
home_urlpatterns = [path("", home.home_view, name="home")]
