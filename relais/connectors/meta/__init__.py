"""Facebook Pages, Messenger and Instagram through the Meta Graph API."""
