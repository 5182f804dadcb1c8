"""The Django admin: staff edit the criteria; everything else is for reading. State changes
go through the review pages and services so each one leaves an audit event."""

from __future__ import annotations

from django.contrib import admin

from .models import Application, AuditEvent, Criterion, Organization, TeamMember


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
    list_display = ("name", "status", "website", "member_since", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "slug", "website")
    # Status moves only through services (approval, suspension), never by hand.
    readonly_fields = ("status", "member_since", "created_at")
    inlines = [TeamMemberInline]


@admin.register(TeamMember)
class TeamMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "is_admin", "is_need_to_know", "created_at")
    list_filter = ("is_admin", "is_need_to_know", "organization__status")
    search_fields = ("user__email", "organization__name")
    list_select_related = ("user", "organization")
    raw_id_fields = ("user", "organization")


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


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target_repr", "organization")
    list_filter = ("action",)
    search_fields = ("action", "target_repr", "actor__email")
    list_select_related = ("actor", "organization")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
