"""Writes: every state change is one transaction with an audit event; mail goes after commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from core.audit import audit_record
from core.queue import task_queue_after_commit
from distributors.models import (
    EVIDENCE_MAX_LENGTH,
    LINKS_MAX,
    NOTE_MAX_LENGTH,
    Application,
    Criterion,
    CriterionAnswer,
    CriterionReview,
    Organization,
    Question,
    TeamMember,
    Vouch,
)
from distributors.selectors import (
    application_approval_blockers,
    application_has_eligible_vouch,
    application_policy_accepted,
    criteria_active,
)
from distributors.services.sanctions import REMOVED_REFUSAL, application_blocked
from distributors.text import name_fold, organization_name_clean

State = Application.State

# Must-show wording of the approval rule (criteria 6 and 7 are checked by the system, not
# only by a reviewer's verdict, and again at decision time because standing can change).
APPROVAL_NEEDS_VOUCH_AND_POLICY = (
    "An application cannot be approved without a confirmed vouch from an eligible voucher "
    "and the applicant's acceptance of the current policy"
)


def _require_staff(actor) -> None:
    if not (actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only the security team can do this.")


def _require_org_admin(actor, organization: Organization) -> None:
    if not TeamMember.objects.filter(organization=organization, user=actor, is_admin=True).exists():
        raise PermissionDenied("Only an admin of this organisation can do this.")


def _locked(application: Application) -> Application:
    """Re-read the row under a lock so two requests cannot both move it."""
    return (
        Application.objects.select_for_update()
        .select_related("organization")
        .get(pk=application.pk)
    )


def _clean_text(value: str, *, field: str, label: str, max_length: int, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: f"{label} is required."})
    if len(value) > max_length:
        raise ValidationError(
            {field: f"{label} is {len(value):,} characters; the limit is {max_length:,}."}
        )
    return value


def _clean_links(links: Iterable[str]) -> list[str]:
    validate = URLValidator(schemes=["https", "http"])
    cleaned = [link.strip() for link in links if link and link.strip()]
    if len(cleaned) > LINKS_MAX:
        raise ValidationError({"links": f"Give at most {LINKS_MAX} links."})
    for link in cleaned:
        if len(link) > 500:
            raise ValidationError({"links": "Each link must be at most 500 characters."})
        try:
            validate(link)
        except ValidationError:
            raise ValidationError(
                {"links": f"“{link[:80]}” is not a valid http(s) address."}
            ) from None
    return cleaned


def _set_state(application: Application, *, state: str, actor, action: str, **data) -> None:
    previous = application.state
    application.state = state
    application.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action=action,
        target=application,
        data={"from": previous, "to": state, **data},
    )
    _notify_after_commit(application)


def _notify_after_commit(application: Application) -> None:
    application_id = application.pk
    task_queue_after_commit("distributors.tasks.application_state_mail_task", application_id)


def _criterion_is_satisfied_for_submit(
    application: Application, criterion: Criterion, answered: set[int]
) -> bool:
    # Policy: the applicant's own acceptance, not a text saying so. Vouch: someone has been
    # asked (their answer may still be pending). Evidence: a written answer.
    if criterion.kind == Criterion.Kind.POLICY:
        return application_policy_accepted(application=application)
    if criterion.kind == Criterion.Kind.VOUCH:
        return application.vouches.filter(
            state__in=[Vouch.State.REQUESTED, Vouch.State.CONFIRMED]
        ).exists()
    return criterion.pk in answered


def _system_criterion_unmet(application: Application, criterion: Criterion) -> str | None:
    """Why a policy or vouch criterion cannot be marked met right now, or None."""
    if criterion.kind == Criterion.Kind.POLICY and not application_policy_accepted(
        application=application
    ):
        return (
            f"Criterion {criterion.number} cannot be marked met: the applicant has not "
            "accepted the current version of the embargo policy."
        )
    if criterion.kind == Criterion.Kind.VOUCH and not application_has_eligible_vouch(
        application=application
    ):
        return (
            f"Criterion {criterion.number} cannot be marked met: there is no confirmed vouch "
            "from a voucher in good standing in a member organisation."
        )
    return None


def organization_name_taken(name: str) -> bool:
    """True if an organisation already has this name as people read it (case, spacing
    and compatibility forms aside)."""
    folded = name_fold(name)
    # iexact narrows the rows in SQL; name_fold decides, as SQL case rules differ.
    candidates = Organization.objects.filter(name__iexact=name).values_list("name", flat=True)
    return any(name_fold(other) == folded for other in candidates)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "organisation"
    slug, counter = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


@transaction.atomic
def organization_apply(*, actor, name: str, website: str) -> Application:
    """A new organisation, its first admin (the actor) and a draft application."""
    if not actor.is_authenticated:
        raise PermissionDenied("Sign in first.")
    # Normalised before it is stored or compared: no line breaks into plain-text mail, no
    # invisible characters to make a removed name look new.
    name = organization_name_clean(name)
    website = _clean_text(
        website, field="website", label="The website", max_length=300, required=True
    )
    try:
        URLValidator(schemes=["https", "http"])(website)
    except ValidationError:
        raise ValidationError({"website": "Enter a valid http(s) address."}) from None
    # Checked first: a removed organisation's people get a clear refusal, not advice to
    # continue an application they can no longer make.
    if application_blocked(actor=actor, name=name, website=website):
        raise ValidationError(REMOVED_REFUSAL)
    if TeamMember.objects.filter(user=actor).exists():
        raise ValidationError(
            "You already belong to an organisation; continue its application instead."
        )
    if organization_name_taken(name):
        raise ValidationError({"name": "An organisation with this name already exists."})
    organization = Organization.objects.create(name=name, slug=_unique_slug(name), website=website)
    TeamMember.objects.create(organization=organization, user=actor, is_admin=True)
    application = Application.objects.create(organization=organization, created_by=actor)
    audit_record(
        actor=actor,
        action="organization.created",
        target=organization,
        data={"name": name, "website": website},
    )
    audit_record(
        actor=actor, action="application.created", target=application, data={"to": State.DRAFT}
    )
    return application


@transaction.atomic
def application_start(*, actor, organization: Organization) -> Application:
    """A fresh draft for an organisation whose last application was closed."""
    _require_org_admin(actor, organization)
    if organization.status != Organization.Status.APPLICANT:
        raise ValidationError("Only an organisation that is not yet a member can apply.")
    try:
        with transaction.atomic():
            application = Application.objects.create(organization=organization, created_by=actor)
    except IntegrityError:
        raise ValidationError("This organisation already has an open application.") from None
    audit_record(
        actor=actor, action="application.created", target=application, data={"to": State.DRAFT}
    )
    return application


@transaction.atomic
def criterion_answer_save(
    *, application: Application, criterion: Criterion, evidence: str, links: Iterable[str], actor
) -> CriterionAnswer:
    application = _locked(application)
    _require_org_admin(actor, application.organization)
    if not application.is_editable_by_applicant:
        raise ValidationError("This application can no longer be changed.")
    if not criterion.is_active:
        raise ValidationError("That criterion is no longer in use.")
    evidence = _clean_text(
        evidence,
        field="evidence",
        label="The evidence",
        max_length=EVIDENCE_MAX_LENGTH,
        required=True,
    )
    cleaned_links = _clean_links(links)
    answer, created = CriterionAnswer.objects.update_or_create(
        application=application,
        criterion=criterion,
        defaults={"evidence": evidence, "links": cleaned_links},
    )
    audit_record(
        actor=actor,
        action="application.answer_saved",
        target=application,
        data={"criterion": criterion.number, "created": created, "links": len(cleaned_links)},
    )
    return answer


@transaction.atomic
def application_submit(*, application: Application, actor) -> Application:
    application = _locked(application)
    _require_org_admin(actor, application.organization)
    if application.state != State.DRAFT:
        raise ValidationError("Only a draft can be submitted; this one already was.")
    answered = set(application.answers.exclude(evidence="").values_list("criterion_id", flat=True))
    missing = [
        str(c.number)
        for c in criteria_active()
        if not _criterion_is_satisfied_for_submit(application, c, answered)
    ]
    if missing:
        raise ValidationError(f"Answer every criterion first: {', '.join(missing)}.")
    application.submitted_at = timezone.now()
    application.save(update_fields=["submitted_at"])
    _set_state(application, state=State.SUBMITTED, actor=actor, action="application.submitted")
    application_id = application.pk
    task_queue_after_commit("distributors.tasks.application_reviewer_alert_task", application_id)
    return application


def _review_clean(
    application: Application, criterion: Criterion, *, verdict: str, note: str
) -> str:
    """The verdict checked against the rules; returns the cleaned note. Writes nothing."""
    if verdict not in CriterionReview.Verdict.values:
        raise ValidationError({"verdict": "Choose met, not met or needs information."})
    if verdict == CriterionReview.Verdict.MET:
        reason = _system_criterion_unmet(application, criterion)
        if reason:
            raise ValidationError({"verdict": reason})
    note_required = verdict != CriterionReview.Verdict.MET
    return _clean_text(
        note, field="note", label="A note", max_length=NOTE_MAX_LENGTH, required=note_required
    )


def _review_write(
    application: Application, criterion: Criterion, *, verdict: str, note: str, actor
) -> CriterionReview:
    """Records one checked verdict with its audit event (and question); in the caller's
    transaction, with the application locked."""
    now = timezone.now()
    review, _ = CriterionReview.objects.update_or_create(
        application=application,
        criterion=criterion,
        defaults={"verdict": verdict, "note": note, "reviewer": actor, "reviewed_at": now},
    )
    audit_record(
        actor=actor,
        action="application.criterion_reviewed",
        target=application,
        data={"criterion": criterion.number, "verdict": verdict},
    )
    if verdict == CriterionReview.Verdict.NEEDS_INFO:
        question = Question.objects.create(
            application=application, criterion=criterion, text=note, asked_by=actor, asked_at=now
        )
        audit_record(
            actor=actor,
            action="application.question_asked",
            target=application,
            # The question id lets a replay of the log tell which questions are still open.
            data={"criterion": criterion.number, "question": question.pk},
        )
        if application.state != State.NEEDS_INFO:
            _set_state(
                application, state=State.NEEDS_INFO, actor=actor, action="application.needs_info"
            )
    elif application.state == State.SUBMITTED:
        _set_state(
            application, state=State.IN_REVIEW, actor=actor, action="application.review_started"
        )
    return review


def _require_reviewable(application: Application) -> None:
    if application.state not in Application.REVIEW_STATES:
        raise ValidationError("Only a submitted application under review can be reviewed.")


@transaction.atomic
def criterion_review_record(
    *, application: Application, criterion: Criterion, verdict: str, note: str, actor
) -> CriterionReview:
    _require_staff(actor)
    application = _locked(application)
    _require_reviewable(application)
    note = _review_clean(application, criterion, verdict=verdict, note=note)
    return _review_write(application, criterion, verdict=verdict, note=note, actor=actor)


@transaction.atomic
def criteria_review_record(
    *, application: Application, verdicts: Mapping[int, tuple[str, str]], actor
) -> list[CriterionReview]:
    """Several verdicts from the one-page review, keyed by criterion number, each
    (verdict, note); a criterion left blank is skipped, and so is one whose verdict and note
    are what is already recorded (no second audit event or question). All or nothing: if
    any verdict breaks a rule, none is recorded and the ValidationError says which, keyed
    "c<number>-verdict" or "c<number>-note" (the page's field names)."""
    _require_staff(actor)
    application = _locked(application)
    _require_reviewable(application)
    criteria = {criterion.number: criterion for criterion in criteria_active()}
    current = {
        review.criterion_id: (review.verdict, review.note) for review in application.reviews.all()
    }
    errors: dict[str, list[str]] = {}
    to_write = []
    for number, (verdict, note) in sorted(verdicts.items()):
        criterion = criteria.get(number)
        if criterion is None:
            errors.setdefault("__all__", []).append(f"There is no criterion {number} in use.")
            continue
        if not verdict:
            continue
        try:
            note = _review_clean(application, criterion, verdict=verdict, note=note)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(f"c{number}-{field}", []).extend(messages)
            continue
        if current.get(criterion.pk) != (verdict, note):
            to_write.append((criterion, verdict, note))
    if errors:
        raise ValidationError(errors)
    return [
        _review_write(application, criterion, verdict=verdict, note=note, actor=actor)
        for criterion, verdict, note in to_write
    ]


@transaction.atomic
def application_ask(*, application: Application, text: str, actor) -> Question:
    """A question about the application as a whole, not one criterion."""
    _require_staff(actor)
    application = _locked(application)
    if application.state not in Application.REVIEW_STATES:
        raise ValidationError("Questions can only be asked while the application is in review.")
    text = _clean_text(
        text, field="text", label="The question", max_length=NOTE_MAX_LENGTH, required=True
    )
    question = Question.objects.create(
        application=application, text=text, asked_by=actor, asked_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="application.question_asked",
        target=application,
        data={"criterion": None, "question": question.pk},
    )
    if application.state != State.NEEDS_INFO:
        _set_state(
            application, state=State.NEEDS_INFO, actor=actor, action="application.needs_info"
        )
    return question


@transaction.atomic
def question_reply(*, question: Question, reply: str, actor) -> Question:
    application = _locked(question.application)
    _require_org_admin(actor, application.organization)
    question = Question.objects.select_for_update().get(pk=question.pk)
    if application.state != State.NEEDS_INFO or not question.is_open:
        raise ValidationError("This question is already answered or no longer open.")
    reply = _clean_text(
        reply, field="reply", label="The reply", max_length=EVIDENCE_MAX_LENGTH, required=True
    )
    question.reply, question.replied_by, question.replied_at = reply, actor, timezone.now()
    question.save(update_fields=["reply", "replied_by", "replied_at"])
    audit_record(
        actor=actor,
        action="application.question_answered",
        target=application,
        data={"question": question.pk},
    )
    # Once every question has a reply the file goes back to the reviewers.
    if not application.questions.filter(replied_at__isnull=True).exists():
        _set_state(
            application, state=State.IN_REVIEW, actor=actor, action="application.info_provided"
        )
    return question


def _require_approvable(application: Application) -> None:
    """Raises, naming every blocker, unless the application can be approved now: the same
    list the review page shows (distributors.selectors.application_approval_blockers)."""
    blockers = application_approval_blockers(application=application)
    if not blockers:
        return
    words = " ".join(blocker.message for blocker in blockers)
    if any(blocker.kind in {"vouch", "policy"} for blocker in blockers):
        words = f"{APPROVAL_NEEDS_VOUCH_AND_POLICY}. {words}"
    raise ValidationError(f"Not approved. {words}")


def _approve(application: Application, *, reason: str, actor, now) -> None:
    """Marks the application approved and makes its applicant organisation a member."""
    _set_state(
        application,
        state=State.APPROVED,
        actor=actor,
        action="application.approved",
        reason=reason,
    )
    organization = Organization.objects.select_for_update().get(pk=application.organization_id)
    if organization.status != Organization.Status.APPLICANT:
        raise ValidationError("Only an applicant organisation can become a member.")
    organization.status = Organization.Status.MEMBER
    organization.member_since = now
    organization.save(update_fields=["status", "member_since"])
    audit_record(
        actor=actor,
        action="organization.became_member",
        target=organization,
        data={
            "application": application.pk,
            "from": Organization.Status.APPLICANT,
            "to": Organization.Status.MEMBER,
        },
    )


@transaction.atomic
def application_decide(
    *, application: Application, approve: bool, reason: str, actor
) -> Application:
    _require_staff(actor)
    application = _locked(application)
    if application.state in Application.FINAL_STATES:
        raise ValidationError(
            f"This application was already {application.get_state_display().lower()}."
        )
    if application.state not in Application.REVIEW_STATES:
        raise ValidationError("Only a submitted application can be decided.")
    reason = _clean_text(
        reason, field="reason", label="A reason", max_length=NOTE_MAX_LENGTH, required=True
    )
    if approve:
        _require_approvable(application)
    now = timezone.now()
    application.decided_at, application.decided_by = now, actor
    application.decision_reason = reason
    application.save(update_fields=["decided_at", "decided_by", "decision_reason"])
    if approve:
        _approve(application, reason=reason, actor=actor, now=now)
    else:
        _set_state(
            application,
            state=State.REJECTED,
            actor=actor,
            action="application.rejected",
            reason=reason,
        )
    return application


@transaction.atomic
def application_withdraw(*, application: Application, actor, reason: str = "") -> Application:
    application = _locked(application)
    _require_org_admin(actor, application.organization)
    if application.state not in Application.OPEN_STATES:
        raise ValidationError("Only an open application can be withdrawn.")
    reason = _clean_text(
        reason, field="reason", label="The reason", max_length=NOTE_MAX_LENGTH, required=False
    )
    application.decided_at = timezone.now()
    application.save(update_fields=["decided_at"])
    _set_state(
        application,
        state=State.WITHDRAWN,
        actor=actor,
        action="application.withdrawn",
        reason=reason,
    )
    return application
