"""WhatsApp Business through the Cloud API (Meta Graph API)."""
