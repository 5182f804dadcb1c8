from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView

from ops.home import home_view

# The admin signs in through allauth, so it gets the same rate limits and MFA.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "Haulout administration"

urlpatterns = [
    path("admin/", admin.site.urls),
    # allauth's bare list of security keys: the two-factor overview lists each key with
    # everything that page has (added, last used, rename, remove), so it is the one page.
    # allauth still sends people here after renaming or removing a key without a `next`.
    path(
        "accounts/2fa/webauthn/",
        login_required(RedirectView.as_view(pattern_name="mfa_index")),
        name="security_keys_list",
    ),
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
