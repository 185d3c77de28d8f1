"""The Kivy touchscreen app: draws session snapshots and sends intents. The only Kivy code."""
