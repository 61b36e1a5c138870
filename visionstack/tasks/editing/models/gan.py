"""DCGAN (Radford et al., "Unsupervised Representation Learning with Deep Convolutional GANs", ICLR 2016).

The generator maps a noise vector (N, noise_size) to an image (N, C, S, S) in [-1, 1]: a 4 x 4 transposed
convolution from the noise, then stride-2 transposed convolutions (kernel 4, padding 1) that double the
size and halve the channels, BatchNorm + ReLU after each but the last, ``tanh`` at the end. The
discriminator mirrors it: stride-2 convolutions (kernel 4, padding 1) with LeakyReLU(0.2), BatchNorm on
every one but the first, down to 4 x 4, and a 4 x 4 convolution to one logit. Convolutions are
initialised N(0, 0.02), BatchNorm scales N(1, 0.02) and biases 0 (the paper, Sec. 4). Submodule names
follow MMagic's ``DCGANGenerator`` (``noise2feat``, ``upsampling``, ``output_layer``) and
``DCGANDiscriminator`` (``downsamples``, ``output_layer``).

:class:`DCGAN` trains both with one optimizer wrapper each (``optim_wrapper["generator"]``,
``optim_wrapper["discriminator"]``, an ``OptimWrapperDict``), in MMagic's ``BaseGAN`` order: a
discriminator step every iteration, then ``generator_steps`` generator steps every
``discriminator_steps`` iterations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ....models.base_model import BaseModel
from ....registry import MODELS
from ....structures import DataSample, PixelData
from .data_preprocessor import EditDataPreprocessor

__all__ = ["DCGAN", "DCGANDiscriminator", "DCGANGenerator", "GAN_LOSSES", "dcgan_init", "seeded_noise"]

GAN_LOSSES = ("vanilla", "lsgan", "hinge")


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.'s initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def _num_stages(scale: int, base_scale: int, name: str) -> int:
    stages = math.log2(scale / base_scale) if scale > 0 else -1
    if stages < 1 or not stages.is_integer():
        raise ValueError(
            f"{name} must be {base_scale} times a power of two >= 2 (8, 16, 32, 64 ...), got {scale}"
        )
    return int(stages)


@MODELS.register()
class DCGANGenerator(nn.Module):
    """DCGAN generator: (N, noise_size) noise -> (N, out_channels, output_scale, output_scale) in [-1, 1].

    Args:
        output_scale: output size (32 or 64; 4 times a power of two).
        out_channels: 1 (grayscale digits) or 3.
        base_channels: channels at 4 x 4 (halved at every up-sampling).
        noise_size: length of the noise vector.
    """

    input_scale = 4

    def __init__(
        self, output_scale: int = 32, out_channels: int = 1, base_channels: int = 128, noise_size: int = 100
    ) -> None:
        super().__init__()
        stages = _num_stages(output_scale, self.input_scale, "DCGANGenerator: output_scale")
        if base_channels % 2 ** (stages - 1):
            raise ValueError(
                f"DCGANGenerator: base_channels={base_channels} must be divisible by {2 ** (stages - 1)} "
                f"(halved {stages - 1} times)"
            )
        self.output_scale, self.out_channels, self.noise_size = output_scale, out_channels, noise_size
        self.noise2feat = nn.Sequential(
            nn.ConvTranspose2d(noise_size, base_channels, 4, 1, 0, bias=False),
            nn.BatchNorm2d(base_channels),
            nn.ReLU(inplace=True),
        )
        blocks, channels = [], base_channels
        for _ in range(stages - 1):
            blocks += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        self.upsampling = nn.Sequential(*blocks)
        self.output_layer = nn.Sequential(nn.ConvTranspose2d(channels, out_channels, 4, 2, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """noise (N, noise_size) or (N, noise_size, 1, 1) -> (N, out_channels, S, S)."""
        if noise.dim() == 2:
            noise = noise[:, :, None, None]
        if noise.shape[1:] != (self.noise_size, 1, 1):
            raise ValueError(
                f"DCGANGenerator: noise must be (N, {self.noise_size}), got {tuple(noise.shape)}"
            )
        return self.output_layer(self.upsampling(self.noise2feat(noise)))


@MODELS.register()
class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: (N, in_channels, S, S) in [-1, 1] -> (N,) logits (real > 0).

    Args:
        input_scale: input size (32 or 64; 4 times a power of two).
        in_channels: 1 (grayscale digits) or 3.
        base_channels: channels after the first convolution (doubled at every down-sampling).
    """

    output_scale = 4

    def __init__(self, input_scale: int = 32, in_channels: int = 1, base_channels: int = 32) -> None:
        super().__init__()
        stages = _num_stages(input_scale, self.output_scale, "DCGANDiscriminator: input_scale")
        self.input_scale, self.in_channels = input_scale, in_channels
        # no BatchNorm on the first layer (Radford et al., Sec. 3: it made training unstable)
        blocks = [nn.Conv2d(in_channels, base_channels, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        channels = base_channels
        for _ in range(stages - 1):
            blocks += [
                nn.Conv2d(channels, 2 * channels, 4, 2, 1, bias=False),
                nn.BatchNorm2d(2 * channels),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels *= 2
        self.downsamples = nn.Sequential(*blocks)
        self.output_layer = nn.Conv2d(channels, 1, 4, 1, 0)
        dcgan_init(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        size = (self.in_channels, self.input_scale, self.input_scale)
        if images.shape[1:] != size:
            raise ValueError(
                f"DCGANDiscriminator: images must be (N, {', '.join(map(str, size))}), got {tuple(images.shape)}"
            )
        return self.output_layer(self.downsamples(images)).flatten()


def seeded_noise(seeds: Sequence[int], noise_size: int) -> torch.Tensor:
    """(len(seeds), noise_size) standard-normal noise, row i drawn by ``torch.Generator().manual_seed(seeds[i])``
    (the same row for the same seed, whatever the batch)."""
    rows = [torch.randn(noise_size, generator=torch.Generator().manual_seed(int(seed))) for seed in seeds]
    return torch.stack(rows) if rows else torch.zeros(0, noise_size)


def _disc_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its logits on real and on fake images."""
    if kind == "vanilla":
        return F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if kind == "lsgan":  # Mao et al. 2017, a = 0, b = c = 1
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()  # hinge (Lim and Ye 2017)


def _gen_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the discriminator's logits on fake images (non-saturating for vanilla)."""
    if kind == "vanilla":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "lsgan":
        return 0.5 * ((fake - 1) ** 2).mean()
    return -fake.mean()


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(flag)


_GAN_PREPROCESSOR = MappingProxyType({"mean": (127.5,), "std": (127.5,), "bgr_to_rgb": False})


@MODELS.register()
class DCGAN(BaseModel):
    """An unconditional GAN with a generator and a discriminator trained alternately (MMagic's ``BaseGAN``).

    Args:
        generator: noise (N, noise_size) -> images (N, C, S, S) in [-1, 1] (e.g. DCGANGenerator).
        discriminator: images -> (N,) logits (e.g. DCGANDiscriminator).
        data_preprocessor: an EditDataPreprocessor or its arguments; None: one channel, mean = std =
            127.5 (images in [-1, 1]). Use ``mean=(127.5,) * 3, std=(127.5,) * 3, bgr_to_rgb=True``
            for colour.
        noise_size: length of the noise vectors (the generator's ``noise_size`` when it has one).
        discriminator_steps: iterations per generator update (the discriminator steps every iteration).
        generator_steps: generator updates at each of those.
        loss: ``"vanilla"`` (BCE with logits; the generator's non-saturating ``-log D(G(z))``, Goodfellow
            et al. 2014), ``"lsgan"`` or ``"hinge"``.

    Training (:meth:`train_step` with ``optim_wrapper["generator"]`` and ``optim_wrapper["discriminator"]``)
    logs ``loss_disc``, ``loss_gen`` (when the generator stepped), ``disc_real`` and ``disc_fake`` (the
    mean sigmoid of the logits on the real and the generated batch, before the discriminator's step).
    The iteration count lives in the buffer ``iteration`` (saved in checkpoints, so a resumed run keeps
    the schedule of ``discriminator_steps``).

    Modes: ``"predict"``: one generated image per data sample, its noise fixed by the sample's
    ``sample_idx`` (:func:`seeded_noise`) or given as its metainfo ``noise`` ((noise_size,) values):
    ``pred_img`` uint8 (C, S, S) (BGR for colour), ``gt_img`` the sample's real image. ``"tensor"``: those
    images (N, C, S, S) in [-1, 1]. ``"loss"``: both losses on a batch, without stepping.
    """

    task = "generation"
    export_output_names = ("output",)

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
        noise_size: int = 100,
        discriminator_steps: int = 1,
        generator_steps: int = 1,
        loss: str = "vanilla",
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = EditDataPreprocessor(**_GAN_PREPROCESSOR)
        elif isinstance(data_preprocessor, Mapping):
            data_preprocessor = EditDataPreprocessor(**data_preprocessor)
        super().__init__(data_preprocessor)
        own = getattr(generator, "noise_size", noise_size)
        if own != noise_size:
            raise ValueError(f"DCGAN: noise_size={noise_size} but the generator takes noise of size {own}")
        if loss not in GAN_LOSSES:
            raise ValueError(f"DCGAN: loss must be one of {GAN_LOSSES}, got {loss!r}")
        if discriminator_steps < 1 or generator_steps < 1:
            raise ValueError(
                f"DCGAN: discriminator_steps and generator_steps must be >= 1, got "
                f"{discriminator_steps} and {generator_steps}"
            )
        self.generator, self.discriminator = generator, discriminator
        self.noise_size, self.loss_kind = noise_size, loss
        self.discriminator_steps, self.generator_steps = discriminator_steps, generator_steps
        self.register_buffer("iteration", torch.zeros((), dtype=torch.int64))

    # ---- training ------------------------------------------------------------------------------------
    def random_noise(self, num: int) -> torch.Tensor:
        """(num, noise_size) noise from the global random generator (seeded by the runner)."""
        return torch.randn(num, self.noise_size, device=self.iteration.device)

    def disc_losses(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """The discriminator's loss on (N, C, S, S) real images and as many detached fakes."""
        with torch.no_grad():
            fake = self.generator(self.random_noise(real.shape[0]))
        logits_real, logits_fake = self.discriminator(real), self.discriminator(fake)
        return {
            "loss_disc": _disc_loss(self.loss_kind, logits_real, logits_fake),
            "disc_real": torch.sigmoid(logits_real.detach()).mean(),
            "disc_fake": torch.sigmoid(logits_fake.detach()).mean(),
        }

    def gen_losses(self, num: int) -> dict[str, torch.Tensor]:
        """The generator's loss on ``num`` fresh fakes (gradients flow through the discriminator)."""
        return {
            "loss_gen": _gen_loss(self.loss_kind, self.discriminator(self.generator(self.random_noise(num))))
        }

    def train_step(self, data: dict[str, Any], optim_wrapper: Mapping[str, Any]) -> dict[str, float]:
        """A discriminator step, then (every ``discriminator_steps`` iterations) ``generator_steps``
        generator steps with the discriminator's parameters frozen; returns the logged values."""
        for name in ("generator", "discriminator"):
            if not isinstance(optim_wrapper, Mapping) or name not in optim_wrapper:
                raise TypeError(
                    "DCGAN.train_step needs one optimizer wrapper per network: optim_wrapper = dict("
                    "generator=dict(optimizer=...), discriminator=dict(optimizer=...))"
                )
        real = self.data_preprocessor(data, training=True)["inputs"]
        disc_wrapper = optim_wrapper["discriminator"]
        with disc_wrapper.optim_context(self.discriminator):
            disc_values = self.disc_losses(real)
        disc_wrapper.update_params(disc_values["loss_disc"])
        log_vars = {name: value.item() for name, value in disc_values.items()}
        self.iteration += 1
        if int(self.iteration) % self.discriminator_steps == 0:
            gen_wrapper = optim_wrapper["generator"]
            set_requires_grad(self.discriminator, False)
            try:
                gen_values = []
                for _ in range(self.generator_steps):
                    with gen_wrapper.optim_context(self.generator):
                        loss_gen = self.gen_losses(real.shape[0])["loss_gen"]
                    gen_wrapper.update_params(loss_gen)
                    gen_values.append(loss_gen.item())
            finally:
                set_requires_grad(self.discriminator, True)
            log_vars["loss_gen"] = sum(gen_values) / len(gen_values)
        return log_vars

    def loss(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> dict[str, torch.Tensor]:
        """Both losses on real images (N, C, S, S), no step (e.g. for a validation loss)."""
        return {**self.disc_losses(inputs), **self.gen_losses(inputs.shape[0])}

    # ---- generation ----------------------------------------------------------------------------------
    def noise_of(self, data_samples: Sequence[DataSample] | None, num: int) -> torch.Tensor:
        """(num, noise_size) noise: each sample's metainfo ``noise`` or :func:`seeded_noise` of its
        ``sample_idx`` (of 0 .. num - 1 without samples)."""
        if data_samples is None:
            return seeded_noise(range(num), self.noise_size).to(self.iteration.device)
        rows = []
        for index, sample in enumerate(data_samples):
            given = sample.get("noise")
            if given is not None:
                row = torch.as_tensor(given, dtype=torch.float32).flatten()
                if row.numel() != self.noise_size:
                    raise ValueError(
                        f"{sample.get('img_path', f'sample {index}')}: noise has {row.numel()} values, "
                        f"the generator takes {self.noise_size}"
                    )
            else:
                row = seeded_noise([sample.get("sample_idx", index)], self.noise_size)[0]
            rows.append(row)
        return torch.stack(rows).to(self.iteration.device)

    def forward_tensor(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None):
        """One generated image (N, C, S, S) in [-1, 1] per input: a batch of latents (N, noise_size) (what
        ``test`` and ``infer`` pack, :mod:`..generation_inputs`) is generated from as it is; for a batch of real
        images the noise is drawn as :meth:`noise_of` says."""
        if inputs.ndim == 2:
            return self.generator(inputs)
        return self.generator(self.noise_of(data_samples, inputs.shape[0]))

    def export_forward(self, noise: torch.Tensor) -> torch.Tensor:
        """noise (N, noise_size) -> images (N, C, S, S) in [-1, 1]."""
        return self.generator(noise)

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        if data_samples is None:
            data_samples = [DataSample(metainfo={"sample_idx": index}) for index in range(inputs.shape[0])]
        fakes = self.data_preprocessor.to_image(self.forward_tensor(inputs, data_samples)).cpu()
        reals = self.data_preprocessor.to_image(inputs).cpu() if inputs.ndim == 4 else None
        for index, sample in enumerate(data_samples):
            sample.pred_img = PixelData(data=fakes[index])
            if "gt_img" not in sample and reals is not None:
                sample.gt_img = PixelData(data=reals[index])
        return list(data_samples)

    @torch.no_grad()
    def sample(self, num: int, seed: int = 0) -> torch.Tensor:
        """``num`` generated images, uint8 (num, C, S, S) (BGR for colour), in eval mode; image i comes
        from the noise of seed ``seed + i``, so ``sample(n, 0)`` equals ``predict`` on samples 0 .. n-1."""
        was_training = self.training
        self.eval()
        try:
            images = self.generator(
                seeded_noise(range(seed, seed + num), self.noise_size).to(self.iteration.device)
            )
        finally:
            self.train(was_training)
        return self.data_preprocessor.to_image(images).cpu()
