"""Device layer: the wire protocol (docs/protocol.md), serial drivers and discovery.

Imports nothing from engine/. `devices.base` is the contract the control core codes against;
`devices.discovery.open_devices` gives it the three drivers; `devices.sim` is the virtual rig.
"""
