"""What a person sees: texts, keyboards, callback data, FSM states, the command table, editing in place.

Services hand data up (rows, outcomes, enums); this layer turns it into words and buttons in the operator's
language. Handlers and middlewares use it directly; services that speak on their own (delivery notices, access
requests, recovery) get a `Notices` renderer injected at build time.
"""
