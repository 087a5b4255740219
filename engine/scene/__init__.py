"""Scenes as data: pydantic models (model.py), YAML loading with positions (loader.py), the
control core's obstacle timeline (timeline.py), task rules (tasks.py) and hot reload (watch.py).

No Panda3D here: the control core imports the timeline from this package. Import the submodules
directly; this package module stays empty so importing one of them stays cheap.
"""
