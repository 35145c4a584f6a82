"""Django admin views of the inbox, for operators (agents use the inbox pages)."""

from django.contrib import admin

from relais.inbox.models import Contact, Conversation, Message, Note


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("handle", "display_name", "network", "organization", "reach", "message_count")
    list_filter = ("organization", "network")
    search_fields = ("handle", "display_name")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "organization",
        "account",
        "contact",
        "status",
        "assignee",
        "team",
        "last_activity_at",
    )
    list_filter = ("organization", "status")
    raw_id_fields = ("contact", "assignee")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "organization", "direction", "kind", "external_id", "created_at")
    list_filter = ("organization", "direction", "kind")
    raw_id_fields = ("conversation", "author", "sent_by", "delivery")


admin.site.register(Note)
