"""Django admin for accounts on networks, raw events and deliveries."""

from django.contrib import admin

from relais.channels.models import ChannelAccount, Delivery, RawEvent


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "kind", "network", "handle", "status")
    list_filter = ("organization", "kind", "network", "status")
    # Credentials are never shown back; connectors' setup pages write them.
    exclude = ("credentials",)
    readonly_fields = ("last_error",)


@admin.register(RawEvent)
class RawEventAdmin(admin.ModelAdmin):
    list_display = ("id", "account", "external_id", "state", "attempts", "received_at")
    list_filter = ("state",)
    readonly_fields = [f.name for f in RawEvent._meta.fields]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "account",
        "state",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    )
    list_filter = ("state",)
    readonly_fields = [f.name for f in Delivery._meta.fields]
