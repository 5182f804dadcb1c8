"""The need-to-know team: its page, the admins' actions, invitations, and the staff view.

Anyone in an organisation reads its team page; only its admins change it (the services
check that again), signed in with a second factor (mfa_required). Staff read every team
under /staff/, where the MFA middleware applies.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.exports import csv_response
from core.forms import form_errors_from
from core.lists import Choice, ListFilter, choices_from, listing_build
from core.views import mfa_required, service_run, staff_required
from distributors.eligibility import Reason, eligibility_evaluate, team_people
from distributors.forms.team import InvitationForm, TeamMemberUpdateForm
from distributors.forms.trust import VouchListingForm
from distributors.models import Invitation, Organization
from distributors.selectors import (
    invitations_of,
    invitations_open,
    organizations_for_staff,
    organizations_with_team_visible_to,
    team_member_for,
    team_members_of,
)
from distributors.services import organization_vouch_listing_set
from distributors.services.team import (
    INVITATION_SESSION_KEY,
    invitation_accept,
    invitation_address_verified,
    invitation_create,
    invitation_for_token,
    invitation_problem,
    invitation_revoke,
    team_member_remove,
    team_member_update,
)

TEAM_ROLE_FILTER = ListFilter(
    name="role",
    label="Role",
    choices=(
        Choice(value="admin", label="Admin", condition=Q(is_admin=True)),
        Choice(value="need_to_know", label="Need-to-know", condition=Q(is_need_to_know=True)),
        Choice(
            value="neither",
            label="Neither admin nor need-to-know",
            condition=Q(is_admin=False, is_need_to_know=False),
        ),
    ),
)
ORGANIZATION_STATUS_FILTER = ListFilter(
    name="status", label="Status", choices=choices_from("status", Organization.Status.choices)
)


def _team_url(organization: Organization) -> str:
    return reverse("distributors:team", kwargs={"slug": organization.slug})


def _visible_organization(request, slug: str) -> Organization:
    return get_object_or_404(organizations_with_team_visible_to(request.user), slug=slug)


def _team_context(
    request,
    organization: Organization,
    *,
    can_manage: bool,
    invite_form=None,
    vouch_listing_form=None,
):
    now = timezone.now()
    people = team_people(organization=organization)
    listing = listing_build(
        request,
        people,
        search_fields=("user__email",),
        search_label="Address",
        filters=(TEAM_ROLE_FILTER,),
    )
    rows = eligibility_evaluate(listing, disclosure_at=now)
    # The services refuse to remove or demote the last admin; the page does not offer it.
    admins = team_members_of(organization=organization).filter(is_admin=True).count()
    # The manager's own row says whether they have a second factor; it may be on
    # another page (or filtered out), and is then loaded on its own.
    own = [row for row in rows if row.member.user_id == request.user.pk]
    if can_manage and not own:
        own = eligibility_evaluate(people.filter(user_id=request.user.pk), disclosure_at=now)
    return {
        "organization": organization,
        "listing": listing,
        "rows": [
            {
                "eligibility": row,
                "last_admin": row.member.is_admin and admins == 1,
                "form": TeamMemberUpdateForm(
                    prefix=f"m{row.member.pk}",
                    initial={
                        "is_need_to_know": row.member.is_need_to_know,
                        "is_admin": row.member.is_admin,
                    },
                ),
            }
            for row in rows
        ],
        "can_manage": can_manage,
        # The actions need it (mfa_required): say so before the admin presses a button.
        "manager_has_mfa": can_manage and any(Reason.NO_MFA not in row.reasons for row in own),
        "invitations": list(invitations_open(organization=organization)) if can_manage else [],
        "invite_form": invite_form or InvitationForm(),
        **(_vouch_listing(organization, vouch_listing_form) if can_manage else {}),
        "now": now,
        # path_info: without the prefix the site may be served under (SCRIPT_NAME).
        "staff_view": request.path_info.startswith("/staff/"),
    }


@login_required
def team_view(request, slug: str):
    organization = _visible_organization(request, slug)
    membership = team_member_for(user=request.user, organization=organization)
    can_manage = bool(membership and membership.is_admin)
    return render(
        request,
        "distributors/team/team.html",
        _team_context(request, organization, can_manage=can_manage),
    )


@mfa_required
@require_POST
def invitation_create_view(request, slug: str):
    organization = _visible_organization(request, slug)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation_create(actor=request.user, organization=organization, **form.cleaned_data)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(_team_url(organization))
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(
                request,
                f"Invitation sent to {form.cleaned_data['email']}. "
                f"The link works once and expires in {Invitation.VALID_DAYS} days.",
            )
            return redirect(_team_url(organization))
    membership = team_member_for(user=request.user, organization=organization)
    can_manage = bool(membership and membership.is_admin)
    if not can_manage:
        messages.error(request, "Only an admin of this organisation can do this.")
        return redirect(_team_url(organization))
    context = _team_context(request, organization, can_manage=True, invite_form=form)
    return render(request, "distributors/team/team.html", context, status=400)


def _vouch_listing(organization: Organization, form=None) -> dict:
    contact = organization.vouch_contact
    return {
        "vouch_contact_email": contact.email if contact else None,
        "vouch_listing_form": form
        or VouchListingForm(
            members=team_members_of(organization=organization),
            initial={"contact": contact.email if contact else ""},
        ),
    }


@mfa_required
@require_POST
def vouch_listing_view(request, slug: str):
    """A member admin lists the organisation as willing to vouch, or takes it off."""
    organization = _visible_organization(request, slug)
    form = VouchListingForm(request.POST, members=team_members_of(organization=organization))
    if form.is_valid():
        try:
            organization_vouch_listing_set(
                actor=request.user, organization=organization, contact=form.cleaned_data["contact"]
            )
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(_team_url(organization))
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            contact = form.cleaned_data["contact"]
            messages.success(
                request,
                f"Applicants now see your organisation and may ask {contact.user.email} to vouch."
                if contact
                else "Your organisation is no longer listed as willing to vouch.",
            )
            return redirect(_team_url(organization))
    membership = team_member_for(user=request.user, organization=organization)
    if not (membership and membership.is_admin):
        messages.error(request, "Only an admin of this organisation can do this.")
        return redirect(_team_url(organization))
    context = _team_context(request, organization, can_manage=True, vouch_listing_form=form)
    return render(request, "distributors/team/team.html", context, status=400)


@mfa_required
@require_POST
def invitation_revoke_view(request, slug: str, pk: int):
    organization = _visible_organization(request, slug)
    invitation = get_object_or_404(invitations_of(organization=organization), pk=pk)
    service_run(
        request,
        lambda: invitation_revoke(actor=request.user, invitation=invitation),
        success=f"The invitation for {invitation.email} was revoked.",
        permission_denied=True,
    )
    return redirect(_team_url(organization))


@mfa_required
@require_POST
def team_member_update_view(request, slug: str, pk: int):
    organization = _visible_organization(request, slug)
    member = get_object_or_404(team_members_of(organization=organization), pk=pk)
    form = TeamMemberUpdateForm(request.POST, prefix=f"m{member.pk}")
    if not form.is_valid():  # pragma: no cover - two checkboxes are always valid
        messages.error(request, "The change could not be read; try again.")
        return redirect(_team_url(organization))
    service_run(
        request,
        lambda: team_member_update(actor=request.user, member=member, **form.cleaned_data),
        success=f"Updated {member.user.email}.",
        permission_denied=True,
    )
    return redirect(_team_url(organization))


@mfa_required
@require_POST
def team_member_remove_view(request, slug: str, pk: int):
    organization = _visible_organization(request, slug)
    member = get_object_or_404(team_members_of(organization=organization), pk=pk)
    try:
        team_member_remove(actor=request.user, member=member)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _message(error))
    else:
        messages.success(request, f"{member.user.email} was removed from the team.")
        if member.user_id == request.user.pk:
            return redirect("home")  # they no longer see this team
    return redirect(_team_url(organization))


def invitation_view(request, token: str):
    """The emailed link. Anyone holding it sees what it is for; accepting needs the
    invited, verified address. After sign-in or sign-up people come back here (?next=)."""
    invitation = invitation_for_token(token)
    problem = invitation_problem(invitation)
    if request.method == "POST" and problem is None:
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={request.path}")
        try:
            member = invitation_accept(token=token, user=request.user)
        except (PermissionDenied, ValidationError) as error:
            messages.error(request, _message(error))
        else:
            messages.success(
                request,
                f"You joined the team of {member.organization}. "
                "Complete your checklist to receive notices.",
            )
            return redirect("distributors:me")
    elif request.method not in ("GET", "HEAD", "POST"):
        raise Http404
    if problem is None and not request.user.is_authenticated:
        # Sign-up from here fills in the invited address and counts it as confirmed.
        request.session[INVITATION_SESSION_KEY] = invitation.token_sha256
    address_matches = (
        problem is None
        and request.user.is_authenticated
        and invitation_address_verified(user=request.user, email=invitation.email)
    )
    return render(
        request,
        "distributors/team/invitation.html",
        {
            "invitation": invitation if problem is None else None,
            "problem": problem,
            "next": request.path,
            "address_matches": address_matches,
        },
        status=410 if problem else 200,
    )


@staff_required
def staff_organizations_view(request):
    listing = listing_build(
        request,
        organizations_for_staff(user=request.user),
        search_fields=("name",),
        search_label="Name",
        filters=(ORGANIZATION_STATUS_FILTER,),
    )
    return render(
        request,
        "distributors/team/staff_organizations.html",
        {"organizations": listing.page, "listing": listing},
    )


@staff_required
def staff_team_view(request, slug: str):
    organization = get_object_or_404(organizations_for_staff(user=request.user), slug=slug)
    return render(
        request,
        "distributors/team/team.html",
        _team_context(request, organization, can_manage=False),
    )


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "You cannot do this."


@staff_required
def staff_members_csv_view(request):
    """The member organisations and how many people each has (and how many of them are
    need-to-know), for the security team's records."""
    members = organizations_for_staff(user=request.user).filter(status=Organization.Status.MEMBER)
    rows = (
        (
            organization.name,
            organization.slug,
            organization.website,
            organization.member_since,
            organization.people_count,
            organization.need_to_know_count,
        )
        for organization in members.iterator(chunk_size=500)
    )
    return csv_response(
        filename="members.csv",
        header=("organisation", "slug", "website", "member_since", "people", "need_to_know"),
        rows=rows,
    )
