"""The ESC/POS receipt printer: byte codec, receipt layout, driver and a wire-level emulator.

Public entry points: `receipt_layout.layout_receipt` (pure, Receipt -> job bytes),
`driver.EscPosPrinter` / `driver.open_from_url` (a `devices.interfaces.ReceiptPrinter`), and
`emulator.PrinterEmulator` (pty/TCP printer that renders paper to PNG).
"""
