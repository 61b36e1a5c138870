# RTMPose-m as published (MMPose's rtmpose-m_8xb256-420e_coco-256x192): CSPNeXt (0.67 / 0.75, last stage) + RTMCC
# head (7x7 conv, GAU 256, SimCC split 2 with sigma (4.9, 5.66), KL loss beta 10 with label softmax), AdamW
# lr 4e-3 for batches of 256 (8 x 32 here as 8 GPUs x 32), 420 epochs, flat then cosine from epoch 210, flip test.
# MMPose initialises the backbone from ImageNet-pretrained CSPNeXt weights and trains with EMA and a second
# augmentation stage for the last 30 epochs; give load_from=... for pretrained weights.
_base_ = ["./rtmpose-t_8xb256-420e_coco-256x192.py"]

model = dict(backbone=dict(deepen_factor=0.67, widen_factor=0.75), head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
