"""Plain mail about member feedback. Tasks call these with ids; each loads its rows and
decides.

None of it carries a case's title, a status, a statement, a test's details or a
message's body: staff are told which case and where to look, members only that there is
news in the portal. Each mail has a Message-ID made from the row or audit event it is
about, so a message sent twice after a fault is one duplicate the reader's mail program
recognises; Auto-Submitted and X-Loop mark it as machine-sent (RFC 3834).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from core.mail import plain_mail
from core.models import AuditEvent
from distributors.models import Organization, TeamMember
from embargo.models import Vulnerability
from feedback.models import FeedbackReminder, OrganizationStatus, ThreadMessage

# The member actions staff hear about (feedback.services).
STAFF_NEWS_ACTIONS = ("feedback.status_set", "feedback.patch_test_added", "feedback.message_added")


def _message_id(kind: str, pk: int) -> str:
    return f"<feedback-{kind}-{pk}@{settings.HAULOUT_MESSAGE_ID_DOMAIN}>"


def _need_to_know_addresses(organization_id: int) -> list[str]:
    """The organisation's need-to-know people, while it is a member."""
    people = TeamMember.objects.filter(
        organization_id=organization_id,
        organization__status=Organization.Status.MEMBER,
        is_need_to_know=True,
        user__is_active=True,
    )
    return list(people.values_list("user__email", flat=True))


def _member_page(case_id: int) -> str:
    return settings.SITE_URL + reverse("feedback:member_case", kwargs={"pk": case_id})


def feedback_staff_news_send(*, event_id: int) -> int:
    """Tells staff an organisation left feedback (a status, a test, a message) on a case:
    the case's public id and the link to the organisation's feedback page."""
    event = AuditEvent.objects.filter(pk=event_id, action__in=STAFF_NEWS_ACTIONS).first()
    if event is None or event.organization_id is None:
        return 0
    if event.action == "feedback.message_added" and event.data.get("from_team"):
        return 0
    case = Vulnerability.objects.filter(pk=event.data.get("vulnerability")).only("public_id")
    case = case.first()
    if case is None:
        return 0
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    url = reverse(
        "feedback:staff_organization",
        kwargs={"pk": case.pk, "organization_pk": event.organization_id},
    )
    return plain_mail(
        recipients=list(staff.values_list("email", flat=True)),
        template="feedback/email/staff_news",
        context={"public_id": case.public_id, "url": settings.SITE_URL + url},
        message_id=_message_id("staff", event.pk),
    )


def feedback_team_news_send(*, message_id: int) -> int:
    """Tells the organisation's need-to-know people the team wrote in their thread."""
    message = ThreadMessage.objects.filter(pk=message_id, from_team=True).first()
    if message is None:
        return 0
    return plain_mail(
        recipients=_need_to_know_addresses(message.organization_id),
        template="feedback/email/team_news",
        context={"url": _member_page(message.vulnerability_id)},
        message_id=_message_id("news", message.pk),
    )


def feedback_reminder_mail_send(*, reminder_id: int) -> int:
    """The one reminder: the team waits for the organisation's status. Not sent when the
    organisation answered meanwhile or the case is closed."""
    reminder = FeedbackReminder.objects.filter(pk=reminder_id).select_related("vulnerability")
    reminder = reminder.first()
    if reminder is None or not reminder.vulnerability.is_open:
        return 0
    if OrganizationStatus.objects.filter(
        vulnerability_id=reminder.vulnerability_id, organization_id=reminder.organization_id
    ).exists():
        return 0
    return plain_mail(
        recipients=_need_to_know_addresses(reminder.organization_id),
        template="feedback/email/reminder",
        context={"url": _member_page(reminder.vulnerability_id)},
        message_id=_message_id("reminder", reminder.pk),
    )
