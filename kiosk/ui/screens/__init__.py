"""The screens: one module per family, each drawing snapshots and sending intents."""
