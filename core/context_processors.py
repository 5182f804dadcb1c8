from django.conf import settings


def site(request) -> dict:
    return {
        "SITE_NAME": settings.SITE_NAME,
        "PROJECT_NAME": settings.PROJECT_NAME,
        "SECURITY_TEAM_EMAIL": settings.SECURITY_TEAM_EMAIL,
    }
