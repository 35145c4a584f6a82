"""The shell of the UI: base templates, static files, sign-in, the home redirect."""
