"""Pre-approved wording ("éléments de langage"): one template model for replies, alerts and posts."""
