"""python -m fastffi info | bench | explain | stubgen"""
from __future__ import annotations

import argparse
import platform
import sys

import fastffi

from .tiers import jit as tier_jit
from .tiers import plan as tier_plan
from .tiers import selection as tiers


def _info(args) -> int:
    print(f"fastffi {fastffi.__version__}")
    print(f"platform: {sys.platform} {platform.machine()}")
    print(f"abi: {tier_plan.abi_name() or 'unknown (no plan classifier)'}")
    print(f"libffi: {fastffi.LIBFFI_VERSION}")
    print(f"tiers: {', '.join(fastffi.available_tiers())}")
    print(f"jit: {_jit_status()}")
    print(f"python: {platform.python_implementation()} {platform.python_version()}")
    return 0


def _jit_status() -> str:
    if tiers.TIERS.index(tiers.ceiling()) > tiers.TIERS.index("jit"):
        return f"not probed (FASTFFI_TIER={tiers.ceiling()})"
    reason = tier_jit.platform_refusal()
    return "supported (W^X executable memory)" if reason is None else f"unavailable: {reason}"


def _explain(args) -> int:
    with fastffi.dlopen(args.lib) as lib:
        print(lib.function(args.declaration, tier=args.tier).explain())
    return 0


def _stubgen(args) -> int:
    from .errors import FFIError, SymbolError
    from .stubgen import stub

    defines = {}
    for d in args.define:
        name, eq, value = d.partition("=")
        defines[name] = value if eq else None
    try:
        header = fastffi.include(args.header, include_dirs=args.include_dir, defines=defines)
        lib = fastffi.dlopen(args.lib) if args.lib else None
    except (FFIError, OSError) as e:
        print(f"stubgen: {e}", file=sys.stderr)
        return 1

    def exported(symbol: str) -> bool:
        assert lib is not None   # asked only when -l named a library
        try:
            lib.symbol(symbol)
        except SymbolError:
            return False
        return True

    command = " ".join([args.header] + (["-l", args.lib] if args.lib else []) + (["-o", args.output]
                                                                                  if args.output else []))
    text = stub(header, command, exported if lib is not None else None)
    if lib is not None:
        lib.close()
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _bench(argv) -> int:
    try:
        from fastffi.bench import run
    except ImportError as e:  # pragma: no cover - only without the bench subpackage
        print(f"the benchmark harness is not installed: {e}", file=sys.stderr)
        return 1
    return run.main(argv)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastffi", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, platform/ABI, libffi version and available tiers")
    p = sub.add_parser("explain", help="print fn.explain() for a C declaration")
    p.add_argument("declaration")
    p.add_argument("--lib", default=None, help="library to load (default: the running process)")
    p.add_argument("--tier", default="auto")
    p = sub.add_parser("stubgen", help="write a .pyi for a library bound to a header")
    p.add_argument("header", help='the header, as include() takes it ("zlib.h", "openssl/evp.h", a path)')
    p.add_argument("-l", "--lib", help="the library: functions it does not export are left out")
    p.add_argument("-o", "--output", help="the .pyi to write (default: standard output)")
    p.add_argument("-I", "--include-dir", action="append", default=[])
    p.add_argument("-D", "--define", action="append", default=[], help="NAME or NAME=VALUE")
    sub.add_parser("bench", help="run the benchmarks (python -m fastffi bench --help)", add_help=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # Everything after "bench" belongs to the harness's own parser.
        return _bench(argv[1:])
    args = parser.parse_args(argv)
    return {"info": _info, "explain": _explain, "stubgen": _stubgen}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
