"""Image-editing models: the super-resolution nets (SRCNN, ESPCN, EDSR, RRDBNet), the denoisers (a U-Net,
NAFNet), the pixel losses, the Restorer (MMagic's ``BaseEditModel``), the gated-convolution inpainting net and
its Inpaintor, and DCGAN. Importing the package registers them in ``MODELS``."""

from . import data_preprocessor, denoise, gan, inpainting, losses, restorer, sr  # noqa: F401
