"""Generate Python code from proto/ into sdk/g2g_sdk/_gen (never edit the output).

protovalidate's `buf/validate/validate.proto` is not shipped as source on PyPI,
but its serialized descriptor is embedded in the protovalidate wheel; we hand
it to protoc with --descriptor_set_in so that the constraints in our .proto
files compile offline. Imports in the output are rewritten to live under
`g2g_sdk._gen` so the generated packages never shadow anything.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
OUT = ROOT / "sdk" / "g2g_sdk" / "_gen"
PREFIX = "g2g_sdk._gen"
VALIDATE = "buf/validate/validate.proto"


def _validate_descriptor_set(dest: Path) -> None:
    import protovalidate
    from google.protobuf import descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2

    source = Path(protovalidate.__file__).parent / "_gen/buf/validate/validate_pb.py"
    blob: bytes | None = None
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "file_desc":
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, bytes):
                blob = first.value
    if blob is None:
        sys.exit(f"generate: no embedded descriptor found in {source}")
    fds = descriptor_pb2.FileDescriptorSet()
    for module in (descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fdp)
        fds.file.append(fdp)
    fds.file.append(descriptor_pb2.FileDescriptorProto.FromString(blob))
    dest.write_bytes(fds.SerializeToString())


def _rewrite_imports(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^from (g2g|buf)(\.[\w.]+)? import ", rf"from {PREFIX}.\1\2 import ", text,
                  flags=re.MULTILINE)
    text = re.sub(r"^import (g2g|buf)\.", rf"import {PREFIX}.\1.", text, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    from grpc_tools import protoc

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    descriptor_set = OUT / "validate.binpb"
    _validate_descriptor_set(descriptor_set)
    protos = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"--descriptor_set_in={descriptor_set}",
        f"-I{PROTO}",
        f"-I{include}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        # An image (with imports and source info) lets `buf lint` run offline.
        f"--descriptor_set_out={OUT / 'image.binpb'}",
        "--include_imports",
        "--include_source_info",
        *protos,
    ]
    if protoc.main(args) != 0:
        sys.exit("generate: protoc failed on " + " ".join(protos))
    if protoc.main(["protoc", f"--descriptor_set_in={descriptor_set}",
                    f"--python_out={OUT}", f"--pyi_out={OUT}", VALIDATE]) != 0:
        sys.exit("generate: protoc failed on " + VALIDATE)
    descriptor_set.unlink()
    for directory in [OUT, *(p for p in OUT.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    for generated in OUT.rglob("*.py*"):
        _rewrite_imports(generated)
    print(f"generated {len(protos)} proto files into {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
