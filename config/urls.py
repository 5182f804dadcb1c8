from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from ops.home import home_view

# The admin signs in through allauth, so it gets the same rate limits and MFA.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "Haulout administration"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", home_view, name="home"),
    path("", include("distributors.urls")),
    path("", include("embargo.urls")),
    path("", include("leaks.urls")),
    path("", include("intake.urls")),
    path("", include("feedback.urls")),
    path("", include("advisories.urls")),
    path("", include("ops.urls")),
]

handler500 = "config.errors.server_error"
