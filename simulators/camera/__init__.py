"""A camera simulator: labelled synthetic scenes, served as MJPEG over HTTP or written to files.

Roles: `_scene` (a scene as data and its frames), `_suite` (the seeded, split scene suite
the motion harness scores), `_mjpeg` (a scene served as MJPEG over HTTP, or written to a
video file), `_cli` (the `camera` subcommand of `shouwang-sim`).
"""

from simulators.camera._cli import add_arguments, run_from_arguments
from simulators.camera._mjpeg import BOUNDARY, MjpegCamera, encode_jpeg, write_video
from simulators.camera._scene import (
    Cover,
    Defocus,
    Effect,
    Headlight,
    IrSwitch,
    Knock,
    Label,
    LabelKind,
    Lighting,
    Rain,
    Scene,
    Walker,
    render,
)
from simulators.camera._suite import (
    FAMILIES,
    NEGATIVE_S,
    NEGATIVES,
    POSITIVES,
    TAMPERS,
    Split,
    build,
    suite,
)

__all__ = [
    "BOUNDARY",
    "FAMILIES",
    "NEGATIVES",
    "NEGATIVE_S",
    "POSITIVES",
    "TAMPERS",
    "Cover",
    "Defocus",
    "Effect",
    "Headlight",
    "IrSwitch",
    "Knock",
    "Label",
    "LabelKind",
    "Lighting",
    "MjpegCamera",
    "Rain",
    "Scene",
    "Split",
    "Walker",
    "add_arguments",
    "build",
    "encode_jpeg",
    "render",
    "run_from_arguments",
    "suite",
    "write_video",
]
