"""Image encoders from local files: any torch module, timm, OpenCLIP, ONNX -- never the network.

The field's strongest geolocation systems embed photos with CLIP-class encoders (GeoCLIP:
CLIP ViT-L/14; PIGEON: StreetCLIP) that their libraries fetch from a model hub at run time.
This library downloads nothing: a user who has the weights on disk points an encoder at them.

* :class:`TorchEncoder` -- any ``torch.nn.Module`` the user built and loaded;
* :class:`TimmEncoder` -- a timm architecture name and a weights file (``.safetensors`` or a
  PyTorch state dict); preprocessing from the architecture's ``pretrained_cfg``;
* :class:`OpenCLIPEncoder` -- an OpenCLIP architecture and a checkpoint file; the image tower's
  embedding (``encode_image``), preprocessing from the model;
* :class:`ONNXEncoder` -- an ``.onnx`` file run by onnxruntime (no PyTorch needed).

All share one contract with the other descriptors: photos (paths or arrays) in, float32 rows out,
L2-normalised by default; batched inference with a progress bar; ``on_error="skip"`` gives NaN
rows and ``errors_``; ``weights_sha1_`` fingerprints the weights, so that a feature cache made
with other weights is never reused (:func:`dgae.features.extract_to_npy`).  Optional packages
are imported in ``fit``; a missing or broken one raises an ``ImportError`` saying what to install.
"""
import hashlib
import os
from numbers import Integral

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from dgae.utils import progress, require, warn

from ._descriptor import as_sources
from ._io import describe_source, load_image

#: ImageNet's per-channel mean and standard deviation (RGB, in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: How to install timm / OpenCLIP (not extras: they need a torchvision built for the user's torch).
TORCHVISION_NOTE = "{} with a torchvision built for the installed torch (README, Install)"
#: Optional packages the Examples need (tests/test_doctests.py skips them without).
DOCTEST_REQUIRES = ("torch",)


def file_sha1(path):
    """SHA-1 of a file's bytes (read in 1 MB blocks).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"weights")
    >>> file_sha1(f.name)[:8]
    '5cab97f5'
    """
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def module_sha1(module):
    """SHA-1 of a torch module's parameters and buffers (names, shapes, dtypes, values)."""
    torch = require("torch", "cnn")
    h = hashlib.sha1()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update((t.float() if t.dtype == torch.bfloat16 else t).numpy().tobytes())
    return h.hexdigest()


def local_file(path, what, argument):
    """``path`` as an existing local file, or a ValueError naming the argument to pass instead."""
    if path is None or "://" in str(path) or str(path).startswith("hf-hub:"):
        raise ValueError(f"{what} reads weights from a local file only and never downloads: pass "
                         f"{argument}=PATH to a file you have (got {path!r})")
    if not os.path.isfile(path):
        raise ValueError(f"{argument}={path!r}: no such file")
    return os.fspath(path)


def prepare_photo(src, index, size, mean, std, resize):
    """One photo -> (3, size, size) float32: RGB in [0, 1], resized, minus ``mean``, over ``std``.

    ``resize="squash"`` scales the whole photo to a square; ``"crop"`` scales its shorter side
    to ``size`` and keeps the centre square (CLIP's and timm's evaluation transform).
    """
    try:
        rgb = load_image(src)
    except ValueError as exc:
        raise ValueError(f"{describe_source(src, index)}: {exc}") from None
    h, w = rgb.shape[:2]
    if resize == "crop":
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        top, left = (nh - size) // 2, (nw - size) // 2
        rgb = rgb[top:top + size, left:left + size]
    else:
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    x = rgb.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


class PhotoEncoder(TransformerMixin, BaseEstimator):
    """Base of the neural encoders: batched, threaded decoding, errors, normalisation.

    A subclass implements ``_build()`` returning ``(forward, defaults, weights_sha1)``:
    ``forward`` maps a float32 ``(b, 3, H, W)`` batch to ``(b, d)``; ``defaults`` holds the
    model's own ``input_size``, ``mean``, ``std`` and ``resize`` (used where the parameter is
    None).  The loaded model is kept out of pickles and rebuilt on first use after loading.

    Examples
    --------
    >>> import numpy as np
    >>> from dgae.features import PhotoEncoder
    >>> class MeanColour(PhotoEncoder):  # a toy encoder: the mean of each channel
    ...     def __init__(self, input_size=16, mean=(0, 0, 0), std=(1, 1, 1), resize="squash",
    ...                  normalize=False, batch_size=32, n_jobs=None, on_error="raise", verbose=0):
    ...         self.input_size, self.mean, self.std, self.resize = input_size, mean, std, resize
    ...         self.normalize, self.batch_size, self.n_jobs = normalize, batch_size, n_jobs
    ...         self.on_error, self.verbose = on_error, verbose
    ...     def _build(self):
    ...         return (lambda batch: batch.mean(axis=(2, 3))), {}, "no weights"
    >>> MeanColour().fit().transform(np.full((1, 4, 4, 3), 255, np.uint8)).tolist()
    [[1.0, 1.0, 1.0]]
    """

    _parameter_constraints = {
        "input_size": [Interval(Integral, 16, None, closed="left"), None],
        "mean": ["array-like", None],
        "std": ["array-like", None],
        "resize": [StrOptions({"squash", "crop"}), None],
        "normalize": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "on_error": [StrOptions({"raise", "skip"})],
        "verbose": ["verbose"],
    }

    #: Fitted attributes ``_build`` sets, which ``fit`` clears to build afresh.
    _built_attributes = ("weights_sha1_",)

    def _build(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _runner(self):
        if getattr(self, "_forward", None) is None:
            self._forward, self._defaults, sha1 = self._build()
            if hasattr(self, "weights_sha1_") and sha1 != self.weights_sha1_:
                raise ValueError(f"{type(self).__name__}: the weights changed since fit "
                                 f"(sha1 {sha1[:12]} != {self.weights_sha1_[:12]}); fit again")
            self.weights_sha1_ = sha1
        return self._forward

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__ itself
        state.pop("_forward", None)
        state.pop("_defaults", None)
        return state

    def _setting(self, name):
        value = getattr(self, name)
        return self._defaults[name] if value is None else value

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, images=None, y=None):
        """Load the model (nothing is learned) and read its preprocessing.

        Parameters
        ----------
        images : ignored
        y : ignored

        Returns
        -------
        self
        """
        self._forward = None
        for name in self._built_attributes:
            self.__dict__.pop(name, None)
        forward = self._runner()
        self.input_size_ = int(self._setting("input_size"))
        self.mean_ = tuple(float(v) for v in self._setting("mean"))
        self.std_ = tuple(float(v) for v in self._setting("std"))
        self.resize_ = self._setting("resize")
        probe = np.zeros((1, 3, self.input_size_, self.input_size_), np.float32)
        self.n_features_out_ = int(np.asarray(forward(probe)).reshape(1, -1).shape[1])
        return self

    # the fit in steps (extract_to_npy): nothing is learned from the photos
    def _begin_fit(self, sources):
        self.fit()

    def _raw_transform(self, images):
        return self.transform(images)

    def _end_fit(self, X):
        return X

    def transform(self, images):
        """Describe photos.

        Parameters
        ----------
        images : sequence of str, os.PathLike or ndarray, or ndarray (n, H, W[, C])

        Returns
        -------
        X : ndarray of shape (n_images, n_features_out_), float32
            NaN rows for photos that cannot be read when ``on_error="skip"``
            (listed in ``errors_``).
        """
        check_is_fitted(self, "n_features_out_")
        sources = as_sources(images)
        forward = self._runner()
        out = np.full((len(sources), self.n_features_out_), np.nan, np.float32)
        errors = []
        with progress(total=len(sources), verbose=self.verbose, desc=type(self).__name__,
                      unit="photo") as bar:
            for s, batch in self._decoded_batches(sources):
                ok = [i for i, b in enumerate(batch) if not isinstance(b, str)]
                for i, b in enumerate(batch):
                    if isinstance(b, str):
                        if self.on_error == "raise":
                            raise ValueError(b)
                        errors.append((s + i, describe_source(sources[s + i], s + i), b))
                if ok:
                    rows = np.asarray(forward(np.stack([batch[i] for i in ok])), np.float32)
                    out[[s + i for i in ok]] = rows.reshape(len(ok), -1)
                bar.update(len(batch))
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        self.errors_ = errors
        if errors:
            warn(f"{len(errors)} of {len(sources)} images could not be read; their rows are NaN "
                 "(see errors_)")
        return out

    def _threads(self):
        """``n_jobs`` as a count of threads (-1: all cores; None stays None: the default)."""
        from joblib import effective_n_jobs

        return None if self.n_jobs is None else int(effective_n_jobs(self.n_jobs))

    def _decoded_batches(self, sources):
        """``(start, [prepared photo or error text, ...])`` per batch of ``batch_size``, decoded
        by ``n_jobs`` threads (default 1; -1: all cores); the next batch decodes while the
        caller runs the network on this one (OpenCV's decoding and the engines release the
        GIL)."""
        from concurrent.futures import ThreadPoolExecutor

        args = (self.input_size_, self.mean_, self.std_, self.resize_)
        starts = range(0, len(sources), self.batch_size)
        with ThreadPoolExecutor(max_workers=self._threads() or 1) as pool:
            def submit(s):
                return [pool.submit(_try_prepare, src, s + i, *args)
                        for i, src in enumerate(sources[s:s + self.batch_size])]

            pending = submit(starts[0]) if len(starts) else []
            for j, s in enumerate(starts):
                current = pending
                pending = submit(starts[j + 1]) if j + 1 < len(starts) else []
                yield s, [f.result() for f in current]

    def get_feature_names_out(self, input_features=None):
        """Output column names, ``"<prefix>_<i>"`` (the prefix: the class name in lower case).

        Returns
        -------
        names : ndarray of str, shape (n_features_out_,)
        """
        check_is_fitted(self, "n_features_out_")
        prefix = getattr(self, "_feature_prefix", type(self).__name__.lower())
        return np.asarray([f"{prefix}_{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


def _try_prepare(src, index, size, mean, std, resize):
    """A prepared photo, or the reason it could not be read (a str)."""
    try:
        return prepare_photo(src, index, size, mean, std, resize)
    except ValueError as exc:
        return str(exc)


def _torch_forward(module, head=None, threads=None, device=None):
    """A NumPy -> NumPy forward pass of a torch module in eval mode, without gradients: on
    ``threads`` CPU threads (None: PyTorch's default), or on ``device`` (the module already
    there; cuDNN's TF32 off, so the sums are float32 as on the CPU)."""
    import contextlib

    torch = require("torch", "cnn")
    module.eval()

    def exact():
        return (contextlib.nullcontext() if device is None
                else torch.backends.cudnn.flags(enabled=True, allow_tf32=False))

    def forward(batch):
        old = torch.get_num_threads()
        if threads:
            torch.set_num_threads(max(1, threads))
        try:
            with torch.inference_mode(), exact():
                x = torch.from_numpy(np.ascontiguousarray(batch))
                y = (head or module)(x if device is None else x.to(device))
            return y.reshape(y.shape[0], -1).float().cpu().numpy()
        finally:
            torch.set_num_threads(old)

    return forward


class TorchEncoder(PhotoEncoder):
    """Any ``torch.nn.Module`` as a photo descriptor: its output, flattened, per photo.

    Parameters
    ----------
    module : torch.nn.Module
        Built and loaded by the user (from their own file); run in eval mode.
    input_size : int, default=224
    mean, std : sequence of 3 float, default=ImageNet's
        Applied to RGB in [0, 1].
    resize : {"squash", "crop"}, default="squash"
    normalize : bool, default=True
        L2-normalise each row.
    batch_size : int, default=32
    n_jobs : int, default=None
        Decoding threads.
    on_error : {"raise", "skip"}, default="raise"
    verbose : int, default=0

    Attributes
    ----------
    n_features_out_ : int
    weights_sha1_ : str
        Digest of the module's parameters and buffers.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from dgae.features import TorchEncoder
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1))
    >>> enc = TorchEncoder(net, input_size=32).fit()
    >>> enc.transform(np.zeros((2, 40, 40, 3), np.uint8)).shape
    (2, 4)
    """

    _parameter_constraints = {**PhotoEncoder._parameter_constraints, "module": [object]}

    def __init__(self, module, input_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                 resize="squash", normalize=True, batch_size=32, n_jobs=None, on_error="raise",
                 verbose=0):
        self.module = module
        self.input_size = input_size
        self.mean = mean
        self.std = std
        self.resize = resize
        self.normalize = normalize
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.verbose = verbose

    def _build(self):
        torch = require("torch", "cnn")
        if not isinstance(self.module, torch.nn.Module):
            raise ValueError(f"module must be a torch.nn.Module, got {type(self.module).__name__}")
        return _torch_forward(self.module), {}, module_sha1(self.module)


def _load_state_dict(path):
    torch = require("torch", "cnn")
    if str(path).endswith(".safetensors"):
        return require("safetensors.torch", "cnn").load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):  # common checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


class _ArchitectureEncoder(PhotoEncoder):
    """An architecture name and a local weights file (TimmEncoder, OpenCLIPEncoder)."""

    _parameter_constraints = {**PhotoEncoder._parameter_constraints,
                              "architecture": [str], "weights": [str, os.PathLike, None]}

    def __init__(self, architecture, weights=None, input_size=None, mean=None, std=None,
                 resize=None, normalize=True, batch_size=32, n_jobs=None, on_error="raise",
                 verbose=0):
        self.architecture = architecture
        self.weights = weights
        self.input_size = input_size
        self.mean = mean
        self.std = std
        self.resize = resize
        self.normalize = normalize
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.verbose = verbose


class TimmEncoder(_ArchitectureEncoder):
    """A timm architecture with weights from a local file; the pooled features (no classifier).

    Parameters
    ----------
    architecture : str
        A timm model name (``timm.list_models()``), e.g. ``"convnext_tiny"``.
    weights : str or path
        A ``.safetensors`` file or a PyTorch state dict (``torch.save(model.state_dict())``)
        for that architecture.  Required: nothing is downloaded (``pretrained=True`` is never
        used), and a missing file is an error naming this argument.
    input_size, mean, std, resize : optional
        Default (None): the architecture's ``pretrained_cfg`` (its input size, mean, std;
        resize "crop", timm's evaluation transform).
    normalize, batch_size, n_jobs, on_error, verbose
        As :class:`TorchEncoder`.

    Attributes
    ----------
    n_features_out_, weights_sha1_ (the weights file's SHA-1), input_size_, mean_, std_, resize_

    Examples
    --------
    >>> import tempfile, os, numpy as np, timm, torch  # doctest: +SKIP
    >>> f = os.path.join(tempfile.mkdtemp(), "w.pth")  # doctest: +SKIP
    >>> torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), f)  # doctest: +SKIP
    >>> TimmEncoder("resnet18", f).fit().n_features_out_  # doctest: +SKIP
    512
    """

    def _build(self):
        path = local_file(self.weights, "TimmEncoder", "weights")
        timm = require("timm", purpose="TimmEncoder", package=TORCHVISION_NOTE.format("timm"))
        model = timm.create_model(self.architecture, pretrained=False)
        model.load_state_dict(_load_state_dict(path), strict=True)
        model.reset_classifier(0)  # the pooled features, not the ImageNet logits
        cfg = model.pretrained_cfg
        defaults = {"input_size": int(cfg.get("input_size", (3, 224, 224))[-1]),
                    "mean": tuple(cfg.get("mean", IMAGENET_MEAN)),
                    "std": tuple(cfg.get("std", IMAGENET_STD)), "resize": "crop"}
        return _torch_forward(model), defaults, file_sha1(path)


class OpenCLIPEncoder(_ArchitectureEncoder):
    """An OpenCLIP image tower with its checkpoint from a local file: ``encode_image`` per photo.

    Parameters
    ----------
    architecture : str
        An OpenCLIP model name (``open_clip.list_models()``), e.g. ``"ViT-B-32"``; names that
        point at a hub (``hf-hub:...``) are refused.
    weights : str or path
        The checkpoint file (e.g. what ``torch.save(model.state_dict())`` wrote, or a release
        ``.bin`` / ``.safetensors`` the user has).  Required: nothing is downloaded.
    input_size, mean, std, resize : optional
        Default (None): the model's own (``model.visual.image_size``, ``image_mean``,
        ``image_std``; resize "crop", CLIP's transform).
    normalize, batch_size, n_jobs, on_error, verbose
        As :class:`TorchEncoder`.

    Attributes
    ----------
    n_features_out_, weights_sha1_, input_size_, mean_, std_, resize_

    Examples
    --------
    >>> enc = OpenCLIPEncoder("ViT-B-32", "/my/weights/open_clip_vit_b32.bin")  # doctest: +SKIP
    >>> X = enc.fit().transform(paths)  # (n, 512) float32, L2-normalised  # doctest: +SKIP
    """

    def _build(self):
        if self.architecture.startswith("hf-hub:"):
            raise ValueError("OpenCLIPEncoder never downloads: give an architecture name "
                             "(open_clip.list_models()) and weights=PATH")
        path = local_file(self.weights, "OpenCLIPEncoder", "weights")
        open_clip = require("open_clip", purpose="OpenCLIPEncoder",
                            package=TORCHVISION_NOTE.format("open-clip-torch"))
        model = open_clip.create_model(self.architecture, pretrained=path, device="cpu")
        visual = model.visual
        size = visual.image_size
        defaults = {"input_size": int(size[0] if isinstance(size, (tuple, list)) else size),
                    "mean": tuple(getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN),
                    "std": tuple(getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD),
                    "resize": "crop"}
        return _torch_forward(model, head=model.encode_image), defaults, file_sha1(path)


class ONNXEncoder(PhotoEncoder):
    """An ``.onnx`` image model run by onnxruntime on the CPU: its first output per photo.

    Parameters
    ----------
    path : str or path
        The ``.onnx`` file; its first input takes ``(batch, 3, H, W)`` float32.
    input_size : int, optional
        Default (None): the model's own H when it is fixed in the file, else 224.
    mean, std : sequence of 3 float, default=ImageNet's
    resize : {"squash", "crop"}, default="squash"
    normalize, batch_size, n_jobs, on_error, verbose
        As :class:`TorchEncoder`.

    Attributes
    ----------
    n_features_out_, weights_sha1_ (the file's SHA-1), input_size_, mean_, std_, resize_

    Examples
    --------
    >>> X = ONNXEncoder("/my/weights/encoder.onnx").fit().transform(paths)  # doctest: +SKIP
    """

    _parameter_constraints = {**PhotoEncoder._parameter_constraints,
                              "path": [str, os.PathLike, None]}

    def __init__(self, path, input_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                 resize="squash", normalize=True, batch_size=32, n_jobs=None, on_error="raise",
                 verbose=0):
        self.path = path
        self.input_size = input_size
        self.mean = mean
        self.std = std
        self.resize = resize
        self.normalize = normalize
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.verbose = verbose

    def _build(self):
        path = local_file(self.path, "ONNXEncoder", "path")
        ort = require("onnxruntime", "onnx")
        options = ort.SessionOptions()
        if self._threads():
            options.intra_op_num_threads = self._threads()
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        first = session.get_inputs()[0]
        h = first.shape[2] if len(first.shape) == 4 else None
        name = first.name

        def forward(batch):
            y = session.run(None, {name: np.ascontiguousarray(batch, np.float32)})[0]
            return np.asarray(y).reshape(len(batch), -1)

        return forward, {"input_size": h if isinstance(h, int) else 224}, file_sha1(path)
