"""Project configuration: settings from the environment, URLs, ASGI entry point."""
