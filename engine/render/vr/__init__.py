"""Headset backends: OpenVR (openvr_backend) and the choice between headset and window (select)."""
