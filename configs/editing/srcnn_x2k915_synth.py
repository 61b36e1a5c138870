# SRCNN (Dong et al. 2014) x2 on the synthetic DIV2K/Set5 layout, CPU-sized: PyTorch-bicubic up-sampling inside,
# 9-1-5 convolutions of 64 and 32 channels (the published network), L1 loss, Adam. The baseline of the SR family.
_base_ = ["./edsr_x2c32b8_synth.py"]
model = dict(generator=dict(_delete_=True, type="SRCNNNet", channels=(3, 64, 32, 3), kernel_sizes=(9, 1, 5),
                            upscale_factor=2))  # fmt: skip
