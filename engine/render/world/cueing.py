"""Visual cueing: stripes across the walking path at the target step length.

Floor markers at a normal stride length brought the steps of people with Parkinson's disease up
to those of controls (Morris et al. 1996; Lewis, Byblow & Walt 2000); visual cues improve stride
length (Spaulding et al. 2013 meta-analysis). The scene's `cueing` block switches them on.
"""

from __future__ import annotations

import math

STRIPE_DEPTH_M = 0.08  # along the route: a wide tape band, visible from eye height
STRIPE_WIDTH_M = 1.0  # across the route, centred on the walking line
STRIPE_Z_M = 0.003  # just above the floor, no z-fighting
STRIPE_RGB = (0.95, 0.85, 0.15)  # high-contrast yellow on any floor


def stripe_positions_m(spacing_m: float, y0: float, y1: float) -> list[float]:
    """Route distances of the stripes in [y0, y1): multiples of the spacing from s = 0."""
    first = math.ceil(y0 / spacing_m - 1e-9)
    out = []
    k = first
    while k * spacing_m < y1 - 1e-9:
        out.append(k * spacing_m)
        k += 1
    return out


def add_floor_stripes(mesh, scene, y0: float, y1: float) -> int:
    """Add the scene's floor stripes between y0 and y1 to a chunk's mesh; returns how many."""
    cueing = getattr(scene, "cueing", None)
    if cueing is None or not cueing.floor_stripes:
        return 0
    ys = [y for y in stripe_positions_m(cueing.stripe_spacing_m, y0, y1) if y <= scene.route_length_m]
    half = STRIPE_WIDTH_M / 2
    for y in ys:
        mesh.floor_quad(-half, half, y - STRIPE_DEPTH_M / 2, y + STRIPE_DEPTH_M / 2, STRIPE_Z_M, STRIPE_RGB)
    return len(ys)
