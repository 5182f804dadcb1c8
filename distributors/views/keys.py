"""A person's own page: their checklist, their PGP keys and the proof of possession.

Only the person's own keys are ever loaded (pgp_keys_of), so anyone else, staff included,
gets a 404 for a key that is not theirs.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.mfa import has_second_factor
from distributors.eligibility import eligibility_for_member
from distributors.forms.team import KeyProofForm, KeyUploadForm
from distributors.models import PgpKey
from distributors.selectors import memberships_of, pgp_keys_of, policy_has_accepted_current
from distributors.services.keys import (
    CHALLENGE_MAX_ATTEMPTS,
    key_challenge_renew,
    key_prove,
    key_revoke,
    key_upload,
)

# The ciphertext of the current challenge lives in the session, not the database: it is
# only needed by the person who asked for it, and only the code's hash is ever stored.
SESSION_CHALLENGE = "haulout.pgp_challenge"


def _remember_challenge(request, key: PgpKey, armored: str) -> None:
    request.session[SESSION_CHALLENGE] = {
        "key": key.pk,
        "created": key.challenge_created_at.isoformat() if key.challenge_created_at else "",
        "armored": armored,
    }


def _remembered_challenge(request, key: PgpKey) -> str | None:
    stored = request.session.get(SESSION_CHALLENGE) or {}
    created = key.challenge_created_at.isoformat() if key.challenge_created_at else ""
    if stored.get("key") == key.pk and stored.get("created") == created and created:
        return stored.get("armored")
    return None


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "You cannot do this."


@login_required
def me_view(request):
    user = request.user
    now = timezone.now()
    memberships = list(memberships_of(user=user))
    rows = [
        eligibility_for_member(team_member_id=membership.pk, disclosure_at=now)
        for membership in memberships
    ]
    active_key = pgp_keys_of(user=user).filter(state=PgpKey.State.ACTIVE).first()
    pending_key = pgp_keys_of(user=user).filter(state=PgpKey.State.PENDING).first()
    return render(
        request,
        "distributors/me.html",
        {
            "has_mfa": has_second_factor(user),
            "has_policy": policy_has_accepted_current(user=user),
            "active_key": active_key,
            "pending_key": pending_key,
            "rows": rows,
            "policy_url": reverse("distributors:policy") + "?next=" + reverse("distributors:me"),
        },
    )


@login_required
def keys_view(request):
    form = KeyUploadForm()
    status = 200
    if request.method == "POST":
        form = KeyUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = key_upload(user=request.user, armored=form.cleaned_data["key_text"])
            except (PermissionDenied, ValidationError) as error:
                form.add_error(None, _message(error))
            else:
                _remember_challenge(request, result.key, result.challenge_armored)
                for warning in result.warnings:
                    messages.warning(request, warning)
                messages.success(
                    request,
                    "Key received. Prove you hold it: decrypt the message below and type "
                    "back the code.",
                )
                return redirect("distributors:key_prove", pk=result.key.pk)
        status = 400
    return render(
        request,
        "distributors/keys/keys.html",
        {"form": form, "keys": list(pgp_keys_of(user=request.user))},
        status=status,
    )


@login_required
def key_prove_view(request, pk: int):
    key = get_object_or_404(pgp_keys_of(user=request.user), pk=pk)
    form = KeyProofForm()
    status = 200
    if request.method == "POST":
        form = KeyProofForm(request.POST)
        if form.is_valid():
            try:
                key_prove(user=request.user, key=key, code=form.cleaned_data["code"])
            except (PermissionDenied, ValidationError) as error:
                form.add_error("code", _message(error))
            else:
                request.session.pop(SESSION_CHALLENGE, None)
                messages.success(request, "Key verified. Notices will be encrypted to it.")
                # The proof is usually the last item of the checklist: the person sees
                # there at once whether they can now receive notices.
                return redirect("distributors:me")
        status = 400
        key.refresh_from_db()
    return render(
        request,
        "distributors/keys/prove.html",
        {
            "key": key,
            "form": form,
            "challenge": _remembered_challenge(request, key),
            "attempts_left": max(CHALLENGE_MAX_ATTEMPTS - key.challenge_attempts, 0),
        },
        status=status,
    )


@login_required
@require_POST
def key_challenge_view(request, pk: int):
    key = get_object_or_404(pgp_keys_of(user=request.user), pk=pk)
    try:
        armored = key_challenge_renew(user=request.user, key=key)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _message(error))
        return redirect("distributors:keys")
    key.refresh_from_db()
    _remember_challenge(request, key, armored)
    messages.success(request, "A new challenge was created; earlier codes no longer work.")
    return redirect("distributors:key_prove", pk=key.pk)


@login_required
@require_POST
def key_revoke_view(request, pk: int):
    key = get_object_or_404(pgp_keys_of(user=request.user), pk=pk)
    try:
        key_revoke(user=request.user, key=key)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _message(error))
    else:
        messages.warning(
            request,
            "The key is revoked: nothing will be encrypted to it again. Upload and prove a "
            "new key to receive notices.",
        )
    return redirect("distributors:keys")
