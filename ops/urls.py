from django.urls import path

from ops import views

app_name = "ops"

urlpatterns = [
    path("healthz/", views.healthz_view, name="healthz"),
    path("metrics", views.metrics_view, name="metrics"),
    # Under /staff/, so the staff MFA middleware applies.
    path("staff/health/", views.staff_health_view, name="staff_health"),
]
