"""Faster-than-real-time sessions: the real control core on a simulated clock (`main.py simulate`)."""
