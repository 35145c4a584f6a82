"""Care workflow: SLA clocks, shifts and on-call, routing rules, hand-offs, author profiles."""
