"""1:1 face verification against the ID-card photo, with a blink liveness challenge.

Public entry points:
    make_verifier(threshold=DEFAULT_THRESHOLD, isolated=False, **options)   (FaceVerifier;
        isolated=True: ProcessFaceVerifier, the same in a child process)
    FaceAttempts(max_attempts)        (a standalone verifier's attempt counter)
    encode_card_photo(bgr) -> np.ndarray(128)
Heavy imports (dlib via face_recognition) happen on first use, not on import of this package.
"""
from __future__ import annotations

from devices.face.encoding import DEFAULT_THRESHOLD, as_card_photo, encode_card_photo
from devices.face.verifier import FaceAttempts, LiveFaceVerifier, LivePreview, is_success

__all__ = ["DEFAULT_THRESHOLD", "FaceAttempts", "LiveFaceVerifier", "LivePreview",
           "as_card_photo", "encode_card_photo", "is_success", "make_verifier"]


def make_verifier(threshold: float | None = None, isolated: bool = False, **options):
    """The verifier the kiosk wires for `face.verify` (threshold from configuration).

    isolated: run it in its own process (`ProcessFaceVerifier`), as the app does, so dlib
    holding the GIL never stalls the UI; otherwise a `LiveFaceVerifier` in this process."""
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    if isolated:
        from devices.face.process import ProcessFaceVerifier
        return ProcessFaceVerifier(threshold, **options)
    return LiveFaceVerifier(threshold=threshold, **options)
