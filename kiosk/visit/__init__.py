"""One citizen's visit: intents in, the session actor, device steps, snapshots out, the packet.

Also the returning citizen's lookup (办件查询/补件), the guide text and the scripted applicant
the demo and simulations use. No Kivy, no HTTP server; the session reaches the back office only
through the progress client it is given.
"""
