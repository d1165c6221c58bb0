"""Optional packages: a missing one and one that is installed but broken each get an ImportError
that says which it is (a broken binary used to escape as a RuntimeError from deep inside it)."""
import sys

import pytest

from dgae.utils import require


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("dgae_broken_rt", "dgae_broken_os", "dgae_broken_dep"):
        sys.modules.pop(name, None)


def test_missing_module_names_the_extra():
    with pytest.raises(ImportError, match=r'^Thing needs no_such_mod_q, which is missing: pip install "dgae\[cnn\]"$'):
        require("no_such_mod_q", "cnn", purpose="Thing")


@pytest.mark.parametrize("name, body, error", [
    ("dgae_broken_rt", "raise RuntimeError('operator torchvision::nms does not exist')", "RuntimeError"),
    ("dgae_broken_os", "raise OSError('libtorch_cuda.so: cannot open shared object file')", "OSError"),
    ("dgae_broken_dep", "import no_such_dependency_q", "ModuleNotFoundError"),
])
def test_installed_but_broken_module_says_so(site, name, body, error):
    (site / f"{name}.py").write_text(body + "\n")
    with pytest.raises(ImportError, match=rf"^Enc needs {name}, which is installed but does not import "
                                          rf"\({error}: .+\); reinstall") as info:
        require(name, package="x", purpose="Enc")
    assert info.value.name == name
