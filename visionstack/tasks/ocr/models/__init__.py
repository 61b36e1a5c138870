"""OCR models: DBNet (ResNet + FPNC + DB head, its targets and loss) for text detection; CRNN (MiniVGG +
BiLSTM + CTC) and NRTR (modality transform + transformer) for recognition. Importing the package registers
them in ``MODELS``."""

from . import crnn, ctc, db_head, db_loss, dbnet, fpnc, nrtr, recog_preprocessor, recognizer  # noqa: F401
