"""The audit log in the admin: readable, never editable."""

from __future__ import annotations

from django.contrib import admin

from core.calendar import closure_day_add, closure_day_remove
from core.models import AuditCheckpoint, AuditEvent, ClosureDay


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("seq", "created_at", "actor", "action", "target_repr", "organization")
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


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(admin.ModelAdmin):
    """The daily signed heads of the audit chain: made by the checkpoint job only."""

    list_display = ("day", "seq", "hash", "signer_fingerprint", "created_at")
    date_hierarchy = "day"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ClosureDay)
class ClosureDayAdmin(admin.ModelAdmin):
    """The team's own closure days: added and removed through core.calendar's services,
    so each change is audited; a day is never edited in place."""

    list_display = ("day", "reason", "created_by", "created_at")
    fields = ("day", "reason")
    date_hierarchy = "day"

    def has_change_permission(self, request, obj=None) -> bool:
        # The list and the add form need this; an existing day is removed, not edited.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        saved = closure_day_add(day=obj.day, reason=obj.reason, actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        closure_day_remove(closure=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for closure in queryset:
            closure_day_remove(closure=closure, actor=request.user)
