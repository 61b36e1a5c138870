"""The data preprocessor of text recognizers (MMOCR's ``TextRecogDataPreprocessor``).

Recognition crops are resized to a fixed size (32 x 100 for CRNN and NRTR) or to a fixed height and
padded by ``PadToWidth``, so the shared :class:`~visionstack.models.data_preprocessor.DataPreprocessor`
does all the work: it stacks same-size crops, pads the others (bottom and right) to the batch's
largest size, normalises (1-channel gray crops with ``mean=[127], std=[127]`` as MMOCR's CRNN, or
3-channel ones with ``bgr_to_rgb``) and records ``batch_input_shape``. The ``valid_ratio`` of each
sample comes from the pipeline (``PadToWidth``).
"""

from __future__ import annotations

from ....models.data_preprocessor import DataPreprocessor
from ....registry import MODELS

__all__ = ["TextRecogDataPreprocessor"]


@MODELS.register()
class TextRecogDataPreprocessor(DataPreprocessor):
    """:class:`DataPreprocessor` under MMOCR's name, for recognition configs (same arguments)."""
