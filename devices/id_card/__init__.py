"""The resident ID-card reader: the SAM serial protocol (codec), the driver, an emulator that
speaks the same bytes on a pseudo-terminal or TCP, photo decoding and a technician tool.

Modules: `id_number` (GB 11643 check), `codec` (frames, statuses, payloads), `text_block`
(the 256-byte card text for the four card types), `photo` (WLT via the vendor library, and the
emulator's own photo encoding), `driver` (`SamReader`, `open_from_url`), `scenario` and
`emulator` (the SAM emulator), `tool` (`kiosk devices read-card`).
"""
