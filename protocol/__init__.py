"""What terminal and back office share: the sealed packet format (packet.py), signed requests
(signing.py), key files (keys.py), durable file writes (atomic.py) and signed update bundles
(updates.py). It imports only the standard library and third-party packages; the back office
imports this and never kiosk/ (docs/architecture.md)."""
