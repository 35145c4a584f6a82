"""Ground-floor helpers shared by every part: time, encryption, HTTP, enums, tests."""
