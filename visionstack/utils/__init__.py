"""The floor every layer may import: small helpers that know no model, dataset or task.

Modules here import nothing from the rest of the package; importing ``visionstack.utils`` itself
loads nothing (import the module you need: ``from visionstack.utils.lazy import lazy_attributes``).
"""
