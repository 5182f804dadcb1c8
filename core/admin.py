"""The audit log in the admin: readable, never editable."""

from __future__ import annotations

from django.contrib import admin

from core.models import AuditEvent


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
