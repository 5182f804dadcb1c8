"""The Django admin: staff edit the criteria; everything else is for reading. State changes
go through the review pages and services so each one leaves an audit event."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models, transaction

from core.audit import audit_record
from distributors.models import Application, Criterion, Organization, TeamMember
from distributors.text import name_normalise


class OrganizationAdminForm(forms.ModelForm):
    # No Meta: the admin builds it with the fields it shows, as it did before.

    def clean_name(self) -> str:
        # Stored normalised here too: the name goes verbatim into plain-text mail.
        try:
            return name_normalise(self.cleaned_data["name"])
        except ValidationError as error:
            raise ValidationError(error.messages) from None


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    fields = ("user", "is_admin", "is_need_to_know", "created_at")
    readonly_fields = ("user", "is_admin", "is_need_to_know", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationAdminForm
    list_display = ("name", "status", "website", "member_since", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "slug", "website")
    # A website typed without a scheme is an https one.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Status moves only through services (approval, suspension), never by hand.
    readonly_fields = ("status", "member_since", "created_at")
    inlines = [TeamMemberInline]

    def has_add_permission(self, request) -> bool:
        # Organisations come from an application or the founding-member command.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting would erase a removal (the organisation could apply again), its people,
        # its copies of notices and its leak history. Removal is a sanction, with a reason.
        return False

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action="organization.edited_in_admin",
                target=obj,
                data={"fields": sorted(form.changed_data)},
            )


@admin.register(TeamMember)
class TeamMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "is_admin", "is_need_to_know", "created_at")
    list_filter = ("is_admin", "is_need_to_know", "organization__status")
    search_fields = ("user__email", "organization__name")
    list_select_related = ("user", "organization")
    raw_id_fields = ("user", "organization")

    # Read-only: who is in a team, an admin or need-to-know decides who gets embargoed
    # notices, so it changes only on the team pages, through services that check the
    # rules (the last admin, the invitation's verified address) and leave an audit event.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Criterion)
class CriterionAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "kind", "is_active")
    list_editable = ("is_active",)
    list_display_links = ("number", "title")
    fields = ("number", "key", "title", "guidance", "kind", "is_active")
    # The key and kind are what code relies on; the wording is the project's to change.
    readonly_fields = ("key", "kind")

    def has_delete_permission(self, request, obj=None) -> bool:
        # Answers and reviews point at criteria; retire one with is_active instead.
        return False

    def save_model(self, request, obj, form, change) -> None:
        # The wording applicants answer against is part of the record: who changed what.
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action="criterion.edited_in_admin",
                target=obj,
                data={"fields": sorted(form.changed_data)},
            )


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ("pk", "organization", "state", "submitted_at", "decided_at")
    list_filter = ("state",)
    search_fields = ("organization__name",)
    list_select_related = ("organization",)
    readonly_fields = (
        "organization",
        "state",
        "created_by",
        "created_at",
        "submitted_at",
        "decided_at",
        "decided_by",
        "decision_reason",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # Read-mostly: staff may open the page, but saving goes through the review pages.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
