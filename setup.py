"""Build hook: the wheel carries the shipped model as package data, so `unidiffuser demo` / `sample` run anywhere.

Everything else is configured in pyproject.toml. The files copied are those the index of data/fmnist-cpu lists (the
components sampling needs, with their sha256) plus the index, model card, manifest and example inputs: about 30 MB.
The baselines (vd, bespoke_t2i), the evaluator and the text projection stay in the repository: the commands that use
them also need the Fashion-MNIST images, so a clone. Editable installs read data/ in place and copy nothing.
"""
import json, os, shutil
from setuptools import setup
from setuptools.command.build_py import build_py

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'fmnist-cpu')
EXTRA = ('unidiffuser_index.json', 'README.md', 'manifest.json', 'examples')


class build_py_with_model(build_py):
    "build_py, then the shipped model's sampling files into unidiffuser/models/fmnist-cpu."
    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False): return
        index = os.path.join(SRC, 'unidiffuser_index.json')
        if not os.path.isfile(index):
            raise RuntimeError(f"{index} is missing: the wheel would lack the shipped model; build from a checkout")
        with open(index) as f: names = sorted({p.split('/')[0] for p in json.load(f)['files']} | set(EXTRA))
        dst = os.path.join(self.build_lib, 'unidiffuser', 'models', 'fmnist-cpu')
        shutil.rmtree(dst, ignore_errors=True); os.makedirs(dst)
        for n in names:
            s, d = os.path.join(SRC, n), os.path.join(dst, n)
            if os.path.isdir(s): shutil.copytree(s, d)
            else: shutil.copy2(s, d)


setup(cmdclass={'build_py': build_py_with_model})
