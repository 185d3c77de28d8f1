"""The kiosk application: configuration, the visit session, the CLI, and (in kiosk/ui) the Kivy app."""
__version__ = "0.1.0"
