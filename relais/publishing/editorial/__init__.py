"""The editorial calendar: scheduled posts, approval, week and month views."""
