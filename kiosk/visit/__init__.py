"""One citizen's visit: intents in, the session actor, device steps, snapshots out, the packet.

`session` is the actor (thread, queue, dispatch, timers, snapshots); `control` changes the
current visit, whose state is one `context.VisitContext`; `steps` runs the device steps,
`idle` the timers, `snapshot` draws the state for the screens. Also the returning citizen's
lookup (办件查询/补件: `returning`, `cases`, `supplement`, `service`), the guide text and the
scripted applicant the demo and simulations use. No Kivy, no HTTP: the session reaches the
back office only through the `cases.CaseLookup` it is given (kiosk.link.progress_client).
"""
