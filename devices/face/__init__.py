"""1:1 face verification against the ID-card photo, with a blink liveness challenge.

Public entry points:
    make_verifier(threshold=DEFAULT_THRESHOLD, **options) -> LiveFaceVerifier   (FaceVerifier)
    FaceVerificationJob(verifier, card_photo_bgr, camera, on_event, on_done, timeout)
    FaceAttempts(max_attempts=3)
    encode_card_photo(bgr) -> np.ndarray(128)
Heavy imports (dlib via face_recognition) happen on first use, not on import of this package.
"""
from __future__ import annotations

from devices.face.encoding import DEFAULT_THRESHOLD, as_card_photo, encode_card_photo
from devices.face.job import FaceVerificationJob
from devices.face.verifier import FaceAttempts, LiveFaceVerifier, LivePreview, is_success

__all__ = ["DEFAULT_THRESHOLD", "FaceAttempts", "FaceVerificationJob", "LiveFaceVerifier",
           "LivePreview", "as_card_photo", "encode_card_photo", "is_success", "make_verifier"]


def make_verifier(threshold: float | None = None, **options) -> LiveFaceVerifier:
    """The verifier the kiosk wires for `face.verify` (threshold from configuration)."""
    return LiveFaceVerifier(threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                            **options)
