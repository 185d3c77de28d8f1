"""Document camera (高拍仪) capture: page finding, quality gates, PDF assembly and an emulator.

Modules:
  pipeline  — pure functions on BGR frames: find the page, warp, deskew, normalise, gate.
  pdf       — accepted JPEG pages -> one PDF per material (img2pdf, no re-encoding).
  emulator  — synthetic desk frames with a rendered page, for tests and demos.
  material_page — the emulator's page: an A4 form with a stamp, rendered with PIL.
  scanner   — `DocCameraScanner`, the `DocumentScanner` the session calls, and the doccam+...
              URLs (V4L2/file/images through `devices.frame_sources`, or the emulator).
  cli       — `doc capture URL` and `doc frames` (python -m devices.document.cli).
"""
