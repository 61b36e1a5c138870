"""NumPy-only synthetic human motion (data layer: any task may use it).

- :mod:`.skeleton`: the Human3.6M-17 kinematic skeleton (joint names, parents, bone lengths, forward kinematics).
- :mod:`.motions`: joint-angle trajectories of actions (walking, waving, squatting, jumping, ...) and
  :func:`~.motions.perform`, which turns one take into world joints (T, 17, 3) mm.

The 3D lifting writer of the pose task and the skeleton writer of the action task both film these people.
"""

from .motions import ACTIONS, EXTRA_ACTIONS, perform
from .skeleton import H36M_JOINT_NAMES, H36M_PARENTS, sample_bone_lengths

__all__ = ["ACTIONS", "EXTRA_ACTIONS", "H36M_JOINT_NAMES", "H36M_PARENTS", "perform", "sample_bone_lengths"]
