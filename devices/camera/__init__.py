"""Face cameras: OpenCV capture (V4L2 device, looped video file, looped image folder, through
`devices.frame_sources`) and a synthetic live stream from a still photo
(`camera+emulator://face?...`), both `FrameSource`s.

`devices.camera.capture.open_from_url` and `devices.camera.emulator.open_from_url` are the
registry factories; nothing here imports OpenCV until one of them is used.
"""
