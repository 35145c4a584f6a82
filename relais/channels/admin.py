"""Django admin for accounts on networks, raw events and deliveries."""

from django.contrib import admin, messages

from relais.channels.contract import ConnectorError
from relais.channels.models import ChannelAccount, Delivery, RawEvent
from relais.channels.registry import connector_for


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "kind", "network", "handle", "status")
    list_filter = ("organization", "kind", "network", "status")
    # Credentials are never shown back; connectors' setup pages write them.
    exclude = ("credentials",)
    readonly_fields = ("last_error", "polled_at")
    actions = ["test_connection"]

    @admin.action(description="Test the connection")
    def test_connection(self, request, queryset):
        for account in queryset:
            try:
                found = connector_for(account).test_connection()
            except ConnectorError as exc:
                self.message_user(request, f"{account}: {exc}", level=messages.ERROR)
            except Exception as exc:  # say what is wrong, whatever it is
                self.message_user(
                    request, f"{account}: {type(exc).__name__}: {exc}", level=messages.ERROR
                )
            else:
                self.message_user(request, f"{account}: OK — {found}", level=messages.SUCCESS)


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
