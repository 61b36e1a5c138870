"""DCGAN: the two networks, initialisation, the alternating train_step with two optimizers, generation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from visionstack.engine import OptimWrapper, OptimWrapperDict
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.editing.models.gan import (
    DCGAN,
    DCGANDiscriminator,
    DCGANGenerator,
    _disc_loss,
    _gen_loss,
    seeded_noise,
)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gan(**kwargs) -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(DCGANGenerator(base_channels=32), DCGANDiscriminator(base_channels=8), **kwargs)


def _digits_batch(num: int = 8, seed: int = 0) -> dict:
    """Real grayscale (1, 32, 32) uint8 images: bright bars on black, like upscaled digits."""
    rng = np.random.default_rng(seed)
    images, samples = [], []
    for index in range(num):
        image = np.zeros((1, 32, 32), np.uint8)
        x0 = rng.integers(4, 20)
        image[0, 6:26, x0 : x0 + 6] = 255
        images.append(torch.from_numpy(image))
        samples.append(DataSample(metainfo={"img_path": f"{index}.png", "sample_idx": index}))
    return {"inputs": images, "data_samples": samples}


def _wrappers(model: DCGAN, lr: float = 2e-4) -> OptimWrapperDict:
    def adam(module):
        return OptimWrapper(torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999)))

    return OptimWrapperDict(generator=adam(model.generator), discriminator=adam(model.discriminator))


def _params(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _changed(before: dict, module: nn.Module) -> list[str]:
    return [name for name, p in module.named_parameters() if not torch.equal(before[name], p)]


# ---- networks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale,channels", [(32, 1), (64, 3)])
def test_shapes_and_output_range(scale, channels):
    torch.manual_seed(0)
    generator = DCGANGenerator(output_scale=scale, out_channels=channels, base_channels=64, noise_size=20)
    discriminator = DCGANDiscriminator(input_scale=scale, in_channels=channels, base_channels=8)
    images = generator(torch.randn(3, 20))
    assert images.shape == (3, channels, scale, scale)
    assert images.abs().max() <= 1.0
    assert discriminator(images).shape == (3,)
    assert generator(torch.randn(3, 20, 1, 1)).shape == images.shape
    with pytest.raises(ValueError, match=r"noise must be \(N, 20\)"):
        generator(torch.randn(3, 21))
    with pytest.raises(ValueError, match="images must be"):
        discriminator(torch.randn(3, channels, scale // 2, scale // 2))


def test_bad_scales_are_refused():
    with pytest.raises(ValueError, match="output_scale must be 4 times a power of two"):
        DCGANGenerator(output_scale=48)
    with pytest.raises(ValueError, match="input_scale must be 4 times a power of two"):
        DCGANDiscriminator(input_scale=4)
    with pytest.raises(ValueError, match="divisible by 4"):
        DCGANGenerator(output_scale=32, base_channels=30)


def test_parameter_counts_follow_the_layout():
    # generator 32 x 32, base b: ConvT(100, b, 4) + BN, ConvT(b, b/2, 4) + BN, ConvT(b/2, b/4) + BN, ConvT(b/4, 1) + bias
    b = 128
    generator = (
        100 * b * 16 + 2 * b + b * (b // 2) * 16 + b + (b // 2) * (b // 4) * 16 + b // 2 + (b // 4) * 16 + 1
    )
    assert sum(p.numel() for p in DCGANGenerator(32, 1, b).parameters()) == generator == 369_601
    # discriminator 32 x 32, base c: Conv(1, c) + bias, Conv(c, 2c) + BN, Conv(2c, 4c) + BN, Conv(4c, 1, 4) + bias
    c = 32
    discriminator = 16 * c + c + c * 2 * c * 16 + 4 * c + 2 * c * 4 * c * 16 + 8 * c + 4 * c * 16 + 1
    assert sum(p.numel() for p in DCGANDiscriminator(32, 1, c).parameters()) == discriminator == 166_817


def test_architecture_follows_radford_et_al():
    discriminator = DCGANDiscriminator(base_channels=8)
    first = list(discriminator.downsamples)[:2]
    assert isinstance(first[0], nn.Conv2d) and isinstance(first[1], nn.LeakyReLU)  # no BatchNorm first
    assert all(m.negative_slope == 0.2 for m in discriminator.modules() if isinstance(m, nn.LeakyReLU))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules()) == 2
    generator = DCGANGenerator(base_channels=32)
    assert isinstance(list(generator.output_layer)[-1], nn.Tanh)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in generator.modules()) == 3  # none on the output


def test_initialisation_statistics():
    torch.manual_seed(0)
    generator = DCGANGenerator(base_channels=256)
    weights = torch.cat(
        [m.weight.flatten() for m in generator.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    )
    assert weights.mean().abs() < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    scales = torch.cat([m.weight.detach() for m in norms])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)
    assert scales.std().item() == pytest.approx(0.02, rel=0.25)
    assert all(torch.all(m.bias == 0) for m in norms)
    biases = [
        m.bias for m in DCGANDiscriminator().modules() if isinstance(m, nn.Conv2d) and m.bias is not None
    ]
    assert biases and all(torch.all(bias == 0) for bias in biases)


# ---- losses ---------------------------------------------------------------------------------------


def test_losses_equal_their_formulas():
    real = torch.tensor([2.0, -0.5, 0.3], dtype=torch.float64)
    fake = torch.tensor([-1.0, 0.7], dtype=torch.float64)
    sig = torch.sigmoid
    vanilla = -torch.log(sig(real)).mean() - torch.log(1 - sig(fake)).mean()
    torch.testing.assert_close(_disc_loss("vanilla", real, fake), vanilla)
    torch.testing.assert_close(_gen_loss("vanilla", fake), -torch.log(sig(fake)).mean())  # non-saturating
    torch.testing.assert_close(
        _disc_loss("lsgan", real, fake), 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    )
    torch.testing.assert_close(_gen_loss("lsgan", fake), 0.5 * ((fake - 1) ** 2).mean())
    torch.testing.assert_close(
        _disc_loss("hinge", real, fake),
        torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean(),
    )
    torch.testing.assert_close(_gen_loss("hinge", fake), -fake.mean())
    with pytest.raises(ValueError, match="loss must be one of"):
        _gan(loss="wgan")


# ---- training -------------------------------------------------------------------------------------


class RecordingWrapper(OptimWrapper):
    """An OptimWrapper that snapshots the parameters of every network right after each of its updates."""

    def __init__(self, optimizer, model: DCGAN) -> None:
        super().__init__(optimizer)
        self.model, self.snapshots, self.disc_grads_during_update = model, [], []

    def update_params(self, loss: torch.Tensor) -> None:
        self.disc_grads_during_update.append([p.requires_grad for p in self.model.discriminator.parameters()])
        super().update_params(loss)
        self.snapshots.append((_params(self.model.generator), _params(self.model.discriminator)))


def test_train_step_alternates_and_the_generator_step_leaves_the_discriminator_alone():
    model = _gan()
    disc = RecordingWrapper(torch.optim.Adam(model.discriminator.parameters(), lr=1e-3), model)
    gen = RecordingWrapper(torch.optim.Adam(model.generator.parameters(), lr=1e-3), model)
    gen_before, disc_before = _params(model.generator), _params(model.discriminator)
    log_vars = model.train_step(_digits_batch(), OptimWrapperDict(generator=gen, discriminator=disc))

    assert set(log_vars) == {"loss_disc", "loss_gen", "disc_real", "disc_fake"}
    assert all(np.isfinite(value) for value in log_vars.values())
    assert 0 < log_vars["disc_real"] < 1 and 0 < log_vars["disc_fake"] < 1
    assert len(disc.snapshots) == 1 and len(gen.snapshots) == 1
    gen_after_disc, disc_after_disc = disc.snapshots[0]
    # the discriminator's step moved every discriminator parameter and no generator parameter
    assert sorted(_changed(disc_before, model.discriminator)) == sorted(disc_before)
    assert all(torch.equal(gen_before[name], value) for name, value in gen_after_disc.items())
    # the generator's step moved every generator parameter and left the discriminator as it was
    assert sorted(_changed(gen_after_disc, model.generator)) == sorted(gen_before)
    assert all(torch.equal(disc_after_disc[name], p) for name, p in model.discriminator.named_parameters())
    # the discriminator was frozen during the generator's update only, and is trainable again
    assert all(disc.disc_grads_during_update[0]) and not any(gen.disc_grads_during_update[0])
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert int(model.iteration) == 1


def test_discriminator_and_generator_steps_schedule():
    model = _gan(discriminator_steps=2, generator_steps=3)
    calls = {"generator": 0, "discriminator": 0}

    class Counting(OptimWrapper):
        def __init__(self, optimizer, name):
            super().__init__(optimizer)
            self.name = name

        def update_params(self, loss):
            calls[self.name] += 1
            super().update_params(loss)

    wrappers = OptimWrapperDict(
        generator=Counting(torch.optim.SGD(model.generator.parameters(), lr=0.01), "generator"),
        discriminator=Counting(torch.optim.SGD(model.discriminator.parameters(), lr=0.01), "discriminator"),
    )
    first = model.train_step(_digits_batch(4), wrappers)
    assert "loss_gen" not in first and calls == {"generator": 0, "discriminator": 1}
    second = model.train_step(_digits_batch(4), wrappers)
    assert "loss_gen" in second and calls == {"generator": 3, "discriminator": 2}
    # the schedule's counter is part of the state dict (a resumed run keeps it)
    state = model.state_dict()
    assert int(state["iteration"]) == 2
    fresh = _gan(discriminator_steps=2, generator_steps=3)
    fresh.load_state_dict(state)
    assert int(fresh.iteration) == 2


def test_train_step_needs_one_wrapper_per_network():
    model = _gan()
    single = OptimWrapper(torch.optim.Adam(model.parameters()))
    with pytest.raises(TypeError, match="one optimizer wrapper per network"):
        model.train_step(_digits_batch(2), single)


def test_a_few_steps_teach_the_discriminator():
    """With the generator frozen (lr 0), the discriminator learns to tell the bars from the fakes."""
    model = _gan()
    wrappers = OptimWrapperDict(
        generator=OptimWrapper(torch.optim.SGD(model.generator.parameters(), lr=0.0)),
        discriminator=OptimWrapper(torch.optim.Adam(model.discriminator.parameters(), lr=2e-3)),
    )
    logs = [model.train_step(_digits_batch(8, seed=step), wrappers) for step in range(30)]
    assert logs[-1]["loss_disc"] < 0.3 * logs[0]["loss_disc"]
    assert logs[-1]["disc_real"] > 0.8 and logs[-1]["disc_fake"] < 0.2


# ---- generation -----------------------------------------------------------------------------------


def test_predict_is_fixed_by_sample_idx():
    model = _gan().eval()
    batch = _digits_batch(4)
    with torch.no_grad():
        samples = model(**model.data_preprocessor(batch), mode="predict")
        again = _digits_batch(4)
        again["inputs"], again["data_samples"] = again["inputs"][::-1], again["data_samples"][::-1]
        reversed_samples = model(**model.data_preprocessor(again), mode="predict")
    by_idx = {s.sample_idx: s.pred_img.data for s in reversed_samples}
    for sample, real in zip(samples, batch["inputs"]):
        pred = sample.pred_img.data
        assert pred.dtype == torch.uint8 and pred.shape == (1, 32, 32)
        assert torch.equal(pred, by_idx[sample.sample_idx])  # the same image whatever the batch
        assert torch.equal(sample.gt_img.data, real)  # the real image, as the ground truth
    assert not torch.equal(samples[0].pred_img.data, samples[1].pred_img.data)
    # sample(n, seed) gives the images of samples seed .. seed + n - 1
    drawn = model.sample(4, seed=0)
    assert drawn.shape == (4, 1, 32, 32) and drawn.dtype == torch.uint8
    assert all(torch.equal(drawn[i], samples[i].pred_img.data) for i in range(4))
    assert torch.equal(model.sample(2, seed=2), drawn[2:])


def test_seeded_noise_rows_do_not_depend_on_the_batch():
    rows = seeded_noise([5, 7], 100)
    assert rows.shape == (2, 100)
    torch.testing.assert_close(rows[1], seeded_noise([7], 100)[0], rtol=0, atol=0)
    torch.testing.assert_close(rows[0], torch.randn(100, generator=torch.Generator().manual_seed(5)))


def test_predict_uses_given_noise_and_export_forward():
    model = _gan().eval()
    noise = torch.randn(100)
    batch = _digits_batch(2)
    batch["data_samples"][1].set_metainfo({"noise": noise.numpy()})
    with torch.no_grad():
        samples = model(**model.data_preprocessor(batch), mode="predict")
        expected = model.data_preprocessor.to_image(model.export_forward(noise[None]))[0]
        tensor = model(**model.data_preprocessor(_digits_batch(2)), mode="tensor")
    assert torch.equal(samples[1].pred_img.data, expected)
    torch.testing.assert_close(tensor, model.generator(seeded_noise([0, 1], 100)))
    bad = _digits_batch(1)
    bad["data_samples"][0].set_metainfo({"noise": np.zeros(5, np.float32)})
    with pytest.raises(ValueError, match=r"0\.png: noise has 5 values, the generator takes 100"):
        model(**model.data_preprocessor(bad), mode="predict")


def test_sample_runs_in_eval_mode_and_restores_training():
    model = _gan()
    model.train()
    running = copy.deepcopy(model.generator.noise2feat[1].running_mean)
    model.sample(3, seed=0)
    assert model.training
    assert torch.equal(model.generator.noise2feat[1].running_mean, running)  # BatchNorm statistics untouched


def test_colour_predictions_come_back_as_bgr():
    torch.manual_seed(0)
    model = DCGAN(
        DCGANGenerator(out_channels=3, base_channels=32),
        DCGANDiscriminator(in_channels=3, base_channels=8),
        data_preprocessor=dict(mean=(127.5,) * 3, std=(127.5,) * 3, bgr_to_rgb=True),
    ).eval()
    with torch.no_grad():
        rgb = model.generator(seeded_noise([0], 100))
    image = model.sample(1, seed=0)[0]
    expected = torch.round(rgb[0] * 127.5 + 127.5).clamp(0, 255).to(torch.uint8).flip(0)
    assert torch.equal(image, expected)


def test_noise_size_must_match_the_generator():
    with pytest.raises(ValueError, match="noise_size=64 but the generator takes noise of size 100"):
        DCGAN(DCGANGenerator(base_channels=32), DCGANDiscriminator(), noise_size=64)


def test_loss_mode_gives_both_losses():
    model = _gan()
    data = model.data_preprocessor(_digits_batch(4))
    losses = model(**data, mode="loss")
    assert {"loss_disc", "loss_gen"} <= set(losses)
    assert all(torch.isfinite(value) for value in losses.values())


def test_builds_from_a_config():
    from visionstack.registry import MODELS

    model = MODELS.build(
        dict(
            type="DCGAN",
            generator=dict(type="DCGANGenerator", output_scale=32, out_channels=1, base_channels=32),
            discriminator=dict(type="DCGANDiscriminator", input_scale=32, in_channels=1, base_channels=8),
            data_preprocessor=dict(
                type="EditDataPreprocessor", mean=(127.5,), std=(127.5,), bgr_to_rgb=False
            ),
        )
    )
    assert model.task == "generation" and isinstance(model.generator, DCGANGenerator)
    sample = DataSample(metainfo={"sample_idx": 3})
    sample.gt_img = PixelData(data=torch.zeros(1, 32, 32, dtype=torch.uint8))
    with torch.no_grad():
        out = model.eval()(
            **model.data_preprocessor(
                {"inputs": [torch.zeros(1, 32, 32, dtype=torch.uint8)], "data_samples": [sample]}
            ),
            mode="predict",
        )
    assert torch.equal(out[0].pred_img.data, model.sample(1, seed=3)[0])
