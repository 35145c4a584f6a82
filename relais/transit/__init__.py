"""The organisation's transit network: GTFS import (lines, stops), later GTFS-realtime output."""
