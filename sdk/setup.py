"""Refuse to build an SDK wheel without its generated protobuf code.

The wheel must carry g2g_sdk/_gen (built from ../proto by `make gen`); a wheel
built without it would install and then fail on the first import. Editable
installs are exempt: `make` installs the SDK before generating the code.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

GENERATED = Path(__file__).parent / "g2g_sdk" / "_gen" / "__init__.py"


class BuildWithGeneratedCode(build_py):
    def run(self) -> None:
        if not self.editable_mode and not GENERATED.is_file():
            raise SystemExit("g2g-sdk: g2g_sdk/_gen is missing; run `make gen` "
                             "(proto/generate.py) before building the wheel")
        super().run()


setup(cmdclass={"build_py": BuildWithGeneratedCode})
