"""Image editing (MMagic's scope): super-resolution (SRCNN, ESPCN, EDSR, RRDBNet), denoising (a U-Net, NAFNet),
inpainting (gated convolutions with masked losses) and unconditional generation (DCGAN, trained with one
optimizer per network); MATLAB-compatible bicubic resizing and degradations; PSNR/SSIM on RGB or Y as MATLAB and
MMagic compute them, KID on a digits classifier trained here; tiling that measures the network's receptive field
so tiled output equals whole-image output. Three tasks share the folder: ``restoration``, ``inpainting`` and
``generation`` (:mod:`.adapter`)."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    (
        "degradations",
        "masks",
        "transforms",
        "datasets",
        "textures",
        "synthetic",
        "color",
        "metrics",
        "results",
        "drawing",
        "tiling",
        "kid",
        "latent",
        "generation_inputs",
        "runtime",
        "models",
    ),
)
