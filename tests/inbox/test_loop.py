"""The first complete loop: a sandbox post arrives, is threaded, answered and delivered."""

from relais.channels.models import DeliveryState, RawEvent
from relais.connectors.sandbox import network
from relais.connectors.sandbox.models import SandboxPost
from relais.inbox import actions
from relais.inbox.models import Conversation, Direction, Message, Status


def test_post_reply_delivered(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post = network.citizen_post(
            account=personas.account, handle="maelle", text="La C4 circule ?", reach=300
        )
    conversation = Conversation.objects.get()
    assert conversation.contact.handle == "maelle"
    assert conversation.contact.reach == 300
    assert conversation.team == personas.team_a
    assert conversation.status == Status.NEW
    assert RawEvent.objects.get().state == "done"

    with django_capture_on_commit_callbacks(execute=True):
        message = actions.conversation_reply(
            conversation=conversation,
            membership=personas.agent_a,
            text="Bonjour, la C4 circule normalement.",
        )
    message.refresh_from_db()
    assert message.delivery.state == DeliveryState.SENT
    reply = SandboxPost.objects.get(from_organization=True)
    assert reply.reply_to == post
    assert message.external_id == reply.external_id
    conversation.refresh_from_db()
    assert conversation.status == Status.PENDING
    assert conversation.first_response_at is not None

    # The citizen answers our reply: same conversation.
    with django_capture_on_commit_callbacks(execute=True):
        network.citizen_post(
            account=personas.account, handle="maelle", text="Merci !", reply_to=reply.external_id
        )
    assert Conversation.objects.count() == 1
    assert Message.objects.filter(direction=Direction.IN).count() == 2
