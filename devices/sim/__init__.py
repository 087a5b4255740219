"""The virtual rig: a patient, a treadmill and an exoskeleton served on pseudo-terminals.

`devices.sim.rig.start_rig` runs it as a child process; `python main.py rig` in the foreground.
"""
