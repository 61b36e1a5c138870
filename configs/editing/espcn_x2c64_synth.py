# ESPCN (Shi et al. 2016) x2 on the synthetic DIV2K/Set5 layout: 5x5 then 3x3 convolutions (64, 32 channels, tanh)
# on the LR image, a sub-pixel (PixelShuffle) convolution to x2; L1 loss, Adam.
_base_ = ["./edsr_x2c32b8_synth.py"]
model = dict(generator=dict(_delete_=True, type="ESPCNNet", in_channels=3, out_channels=3, mid_channels=64,
                            upscale_factor=2))  # fmt: skip
