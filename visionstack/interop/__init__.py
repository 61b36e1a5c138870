"""Bringing other toolboxes' files to visionstack: OpenMMLab checkpoints and configs."""
