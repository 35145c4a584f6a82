"""The unified inbox: contacts, conversations, messages, internal notes."""
