"""Robots: symmetry specs, simulators and the robot dynamics tasks.

One package in layers: :mod:`~symzoo.datasets.robots.spec` (the spec data type; simulator backends
register by model-file suffix) < :mod:`~symzoo.datasets.robots.mujoco` (the MuJoCo backend, the
default) < :mod:`~symzoo.datasets.robots.checks` (a spec checked against its simulator) < :mod:`~symzoo.datasets.robots.pinocchio`
(the URDF backend and the ``solo-com`` tasks), :mod:`~symzoo.datasets.robots.tasks` (the robot
tasks), :mod:`~symzoo.datasets.robots.infer` (a spec inferred from a model file).  The shipped
specs (``*.yaml``) live beside these modules.  Every public name is importable from here, as it was
from the module ``symzoo.datasets.robots``; ``symzoo.datasets.robots_tasks``,
``robots_pinocchio`` and ``robots_infer`` are the same modules under their old names.
"""

from .checks import check_spec
from .infer import (
    MIRROR_NORMALS,
    ROTATION_ORDERS,
    URDF_INERTIAL_TOL,
    Candidate,
    InferredSymmetry,
    infer_spec,
    spec_yaml,
)
from .mujoco import RobotSim, load_mujoco_model
from .pinocchio import (
    URDF_ASYMMETRY_TOL,
    PinocchioSim,
    SoloComTask,
    check_urdf_spec,
    example_robot_data_path,
    solo_com,
    solo_com_c2,
)
from .spec import (
    MODEL_SOURCES,
    ROBOTS_DIR,
    SIM_BACKENDS,
    RobotSpec,
    list_robots,
    load_spec,
    register_model_source,
    register_sim_backend,
    spec_from_dict,
)
from .tasks import (
    ModelView,
    RobotDynamicsTask,
    RobotTask,
    acrobot_fd,
    ant_com,
    orbit_scales,
    quadruped_com,
    robot_from_spec,
)

__all__ = [
    "SIM_BACKENDS",
    "MODEL_SOURCES",
    "register_sim_backend",
    "register_model_source",
    "RobotSpec",
    "RobotSim",
    "load_mujoco_model",
    "check_spec",
    "RobotSim",
    "load_spec",
    "list_robots",
    "check_spec",
    "load_mujoco_model",
    "ROBOTS_DIR",
    "spec_from_dict",
    "RobotTask",
    "RobotDynamicsTask",
    "orbit_scales",
    "ModelView",
    "acrobot_fd",
    "quadruped_com",
    "ant_com",
    "robot_from_spec",
    "PinocchioSim",
    "SoloComTask",
    "check_urdf_spec",
    "example_robot_data_path",
    "solo_com",
    "solo_com_c2",
    "URDF_ASYMMETRY_TOL",
    "InferredSymmetry",
    "Candidate",
    "infer_spec",
    "spec_yaml",
    "ROTATION_ORDERS",
    "MIRROR_NORMALS",
    "URDF_INERTIAL_TOL",
]
