"""Tests of the whatsapp connector."""
