# Names a package that is neither installed nor given a root.
_base_ = ["./_base_/schedule.py", "mmfake::_base_/models/nothing.py"]
