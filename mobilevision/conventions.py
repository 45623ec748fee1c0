"""The conventions every layer shares: ImageNet's input normalisation and the ignore label of masks."""

# Mean and std of ImageNet's RGB pixels in [0, 1]: what torchvision's and timm's MobileNets expect,
# and the default of every model here but SSDLite (TF trained it on [-1, 1] inputs).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# A mask value that is no class: VOC's object borders, padding, crowd regions. Losses and metrics skip it.
IGNORE_INDEX = 255
