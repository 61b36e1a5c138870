"""OCR (MMOCR's scope): text detection (DBNet), text recognition (CRNN with CTC, NRTR), end-to-end reading,
constrained decoding (a lexicon or a regular expression), the ICDAR 2015, Total-Text, MMOCR-JSON and
``image text`` formats, the ICDAR 2015 hmean-IoU and the recognition metrics, and a synthetic scene-text set
whose test fonts are never seen in training. Three tasks share the folder: ``textdet``, ``textrecog`` and
``ocr`` (end to end; :mod:`.adapter`)."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    (
        "formats",
        "datasets",
        "transforms",
        "recog_transforms",
        "dictionary",
        "decoding",
        "constraints",
        "postprocess",
        "polygons",
        "crops",
        "models",
        "metrics",
        "results",
        "records",
        "drawing",
        "synthetic",
        "end_to_end",
        "command",
    ),
)
