from django.utils.functional import SimpleLazyObject

from intake.selectors import report_counts


def reports(request) -> dict:
    """The staff home's report counts. Lazy: only a page that shows them runs the query."""
    user = getattr(request, "user", None)
    if user is None or not (user.is_authenticated and user.is_staff):
        return {}
    return {"report_counts": SimpleLazyObject(report_counts)}
