"""The MMOCR and MMagic converters (visionstack/tasks/{ocr,editing}/openmmlab_keys.py), without OpenMMLab.

The key lists in tests/data/openmmlab_keys/mmocr_*.json and mmagic_*.json (checked by
test_openmmlab_key_lists.py) cover whole models; these tests pin the renaming rules themselves on small
models: MMCV ``ConvModule`` names of MMagic's DCGAN onto the flat sequentials, the iteration counter
that MMagic's checkpoints lack, and MMOCR's saved sinusoidal table, dropped and reported.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import visionstack.tasks  # noqa: F401  (registers the task models)
from visionstack.models.openmmlab_keys import OpenMMLabKeyError, convert_openmmlab_state_dict
from visionstack.tasks.editing.models.gan import DCGAN, DCGANDiscriminator, DCGANGenerator
from visionstack.tasks.editing.openmmlab_keys import conv_module_units
from visionstack.tasks.ocr.models.nrtr import PositionalEncoding

KEY_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "openmmlab_keys"

# MMagic's names -> visionstack's for a 16 x 16 DCGAN (generator: noise2feat + 1 up-sampling + output layer;
# discriminator: 2 down-sampling conv modules, the first without BatchNorm, + output layer)
MMAGIC_TO_VS = {
    "generator.noise2feat.conv.weight": "generator.noise2feat.0.weight",
    "generator.noise2feat.bn.weight": "generator.noise2feat.1.weight",
    "generator.noise2feat.bn.bias": "generator.noise2feat.1.bias",
    "generator.noise2feat.bn.running_mean": "generator.noise2feat.1.running_mean",
    "generator.noise2feat.bn.running_var": "generator.noise2feat.1.running_var",
    "generator.noise2feat.bn.num_batches_tracked": "generator.noise2feat.1.num_batches_tracked",
    "generator.upsampling.0.conv.weight": "generator.upsampling.0.weight",
    "generator.upsampling.0.bn.weight": "generator.upsampling.1.weight",
    "generator.upsampling.0.bn.bias": "generator.upsampling.1.bias",
    "generator.upsampling.0.bn.running_mean": "generator.upsampling.1.running_mean",
    "generator.upsampling.0.bn.running_var": "generator.upsampling.1.running_var",
    "generator.upsampling.0.bn.num_batches_tracked": "generator.upsampling.1.num_batches_tracked",
    "generator.output_layer.conv.weight": "generator.output_layer.0.weight",
    "generator.output_layer.conv.bias": "generator.output_layer.0.bias",
    "discriminator.downsamples.0.conv.weight": "discriminator.downsamples.0.weight",
    "discriminator.downsamples.0.conv.bias": "discriminator.downsamples.0.bias",
    "discriminator.downsamples.1.conv.weight": "discriminator.downsamples.2.weight",
    "discriminator.downsamples.1.bn.weight": "discriminator.downsamples.3.weight",
    "discriminator.downsamples.1.bn.bias": "discriminator.downsamples.3.bias",
    "discriminator.downsamples.1.bn.running_mean": "discriminator.downsamples.3.running_mean",
    "discriminator.downsamples.1.bn.running_var": "discriminator.downsamples.3.running_var",
    "discriminator.downsamples.1.bn.num_batches_tracked": "discriminator.downsamples.3.num_batches_tracked",
    "discriminator.output_layer.conv.weight": "discriminator.output_layer.weight",
    "discriminator.output_layer.conv.bias": "discriminator.output_layer.bias",
}


def _small_dcgan() -> DCGAN:
    torch.manual_seed(0)
    generator = DCGANGenerator(output_scale=16, out_channels=1, base_channels=16, noise_size=8)
    discriminator = DCGANDiscriminator(input_scale=16, in_channels=1, base_channels=8)
    return DCGAN(generator, discriminator, noise_size=8).eval()


def _mmagic_state_dict(model: DCGAN) -> dict[str, torch.Tensor]:
    """The model's values under MMagic's names (fresh random values, so the mapping is visible)."""
    own = model.state_dict()
    gen = torch.Generator().manual_seed(1)
    out = {}
    for om_key, vs_key in MMAGIC_TO_VS.items():
        value = own[vs_key]
        out[om_key] = (
            torch.randn(value.shape, generator=gen)
            if value.is_floating_point()
            else torch.full_like(value, 5)
        )
    return out


def test_conv_module_units_pair_each_convolution_with_its_norm() -> None:
    model = _small_dcgan()
    assert conv_module_units(model.generator.upsampling) == [("0", "1")]
    assert conv_module_units(model.discriminator.downsamples) == [("0", None), ("2", "3")]


def test_dcgan_mmagic_names_map_onto_the_flat_sequentials() -> None:
    model = _small_dcgan()
    mmagic = _mmagic_state_dict(model)
    sd, conversion = convert_openmmlab_state_dict(
        model, {"state_dict": mmagic, "meta": {}}, source="dcgan.pth"
    )
    model.load_state_dict(sd, strict=True)
    for om_key, vs_key in MMAGIC_TO_VS.items():
        assert torch.equal(sd[vs_key], mmagic[om_key]), om_key
    # the iteration counter is not in MMagic's checkpoints: a fresh 0, nothing dropped
    assert int(sd["iteration"]) == 0
    assert conversion.dropped == []
    # the loaded networks compute with the checkpoint's values
    noise = torch.randn(2, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        first = model.generator.noise2feat[0](noise[:, :, None, None])
        expected = torch.nn.functional.conv_transpose2d(
            noise[:, :, None, None], mmagic["generator.noise2feat.conv.weight"]
        )
    assert torch.allclose(first, expected)


def test_dcgan_unmapped_key_is_named() -> None:
    model = _small_dcgan()
    mmagic = _mmagic_state_dict(model)
    mmagic["discriminator.downsamples.1.bn.extra"] = mmagic.pop("discriminator.downsamples.1.bn.weight")
    with pytest.raises(OpenMMLabKeyError) as info:
        convert_openmmlab_state_dict(model, mmagic, source="dcgan.pth")
    message = str(info.value)
    assert "discriminator.downsamples.1.bn.extra" in message
    assert "discriminator.downsamples.3.weight" in message  # the model key that got no value


def test_mmocr_position_table_is_dropped_and_reported() -> None:
    module = PositionalEncoding(d_hid=8, n_position=10)
    table = torch.randn(1, 10, 8)
    sd, conversion = convert_openmmlab_state_dict(module, {"position_table": table}, source="nrtr.pth")
    assert sd == {}
    assert [key for key, _ in conversion.dropped] == ["position_table"]
    assert "sinusoidal" in conversion.dropped[0][1]
    # MMOCR's table is the standard one visionstack computes (sin on even, cos on odd dimensions)
    position, dim = 3, 4
    expected = torch.sin(torch.tensor(position / 10000 ** (dim / 8)))
    assert module.position_table[0, position, dim] == pytest.approx(float(expected), abs=1e-6)


@pytest.mark.parametrize("prefix", ["mmocr_", "mmagic_"])
def test_key_lists_exist_for_both_families(prefix: str) -> None:
    """The generated key lists are present and name the packaged configs they come from."""
    files = sorted(KEY_DIR.glob(prefix + "*.json"))
    assert len(files) >= 3
    for path in files:
        record = json.loads(path.read_text())
        assert record["om_package"] == prefix.rstrip("_")
        assert record["vs_config"].startswith(("configs/ocr/", "configs/editing/"))
        assert record["keys"], path.name
