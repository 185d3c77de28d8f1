"""The session's settings from the kiosk configuration.

`session_settings(config)` is used by the composition root when it builds the session
(kiosk.app.terminal) and by the update applier when a new site profile changes the site
between visits (kiosk.link.updates), so it sits in the visit room both may import.
"""
from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.visit.session import SessionSettings


def session_settings(config: KioskConfig) -> SessionSettings:
    """The session's settings from the configuration (also used when a site profile changes)."""
    site = config.site
    return SessionSettings(
        terminal_id=config.terminal_id, site_name=site.name.get("zh"), phone=site.phone,
        language=config.language, idle_s=config.timeouts.idle_s,
        idle_warning_s=config.timeouts.idle_warning_s,
        card_read_s=config.timeouts.card_read_s, face_s=config.timeouts.face_s,
        end_screen_s=config.timeouts.receipt_take_s, max_face_attempts=config.face.max_attempts,
        progress_base_url=config.backoffice.url, enabled=site.matter_enabled,
        is_open=site.is_open, next_opening=site.next_opening,
        nearest_24h_station=site.nearest_24h_station)
