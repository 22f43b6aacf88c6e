"""`lorajam` command line: doctor (what this runtime offers), badges, release and grade (instructors)."""

from __future__ import annotations

import argparse
import sys
from importlib import util

from lorajam.runtime import package_version

PACKAGES = ("torch", "transformers", "peft", "ipywidgets", "matplotlib", "datasets", "nbgrader", "jupyterlab")
EXIT_USAGE = 2


def doctor_rows(info, hub_checked: bool = True) -> list[tuple[str, str]]:
    """Rows of the doctor table for a `RuntimeInfo`."""
    from lorajam import runtime

    rows = [("python", info.python)] + [(name, package_version(name)) for name in PACKAGES]
    gpu = info.gpu_name or "none"
    cap = f"{info.capability[0]}.{info.capability[1]}" if info.capability else "-"
    memory = (
        f"{info.free_memory_gb:.1f} / {info.total_memory_gb:.1f} GiB free" if info.free_memory_gb is not None else "-"
    )
    if not hub_checked:
        hub = "not checked"
    elif info.hub_offline_env:
        hub = "offline (HF_HUB_OFFLINE set)"
    else:
        hub = "reachable" if info.hub_reachable else "unreachable"
    name, reason = runtime.choose_model("auto", info)
    rows += [
        ("device", info.device),
        ("gpu", gpu),
        ("compute capability", cap),
        ("precision", runtime.dtype_name(runtime.choose_precision(info.capability))),
        ("gpu memory", memory),
        ("hugging face hub", hub),
        ("colab", "yes" if info.on_colab else "no"),
        ("nbgrader autograde", "yes" if info.autograding else "no"),
        ("model for 'auto'", f"{name} ({reason})"),
    ]
    return rows


def doctor_warnings(info) -> list[str]:
    """Runtime warnings plus install problems, each with its fix."""
    from lorajam import runtime

    notes = runtime.precision_warnings(info)
    widgets = package_version("ipywidgets")
    if widgets == "not installed":
        notes.append("ipywidgets is missing: the playground needs it. Fix: pip install 'ipywidgets>=7.7,<9'.")
    if util.find_spec("nbgrader") is None:
        notes.append("nbgrader is not installed (only instructors need it): pip install 'lorajam[instructor]'.")
    return notes


def format_table(rows: list[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in rows)


def cmd_doctor(args: argparse.Namespace) -> int:
    from lorajam import runtime

    info = runtime.detect(check_hub=not args.no_hub, hub_timeout=args.hub_timeout)
    print(f"lorajam {package_version('lorajam')} doctor\n")
    print(format_table(doctor_rows(info, hub_checked=not args.no_hub)))
    notes = doctor_warnings(info)
    if notes:
        print("\nwarnings:")
        for note in notes:
            print(f"  - {note}")
    else:
        print("\nno warnings: ready to go.")
    return 0


def cmd_badges(args: argparse.Namespace) -> int:
    from lorajam import course

    try:
        changed = course.sync_badges()
    except (FileNotFoundError, KeyError) as err:
        print(f"lorajam badges: needs a checkout with pyproject.toml and [tool.lorajam] ({err}).", file=sys.stderr)
        return EXIT_USAGE
    for path in changed:
        print(f"updated {path}")
    print(f"{len(changed)} file(s) updated")
    return 0


def _instructor(name: str, argv: list[str]) -> int:
    if util.find_spec("nbgrader") is None:
        print(
            f"lorajam {name}: nbgrader is not installed. Instructors install it with:\n"
            "    pip install 'lorajam[instructor]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from lorajam import grading

    return getattr(grading, f"cli_{name}")(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lorajam", description="LoRA Study Jam course tools.")
    parser.add_argument("--version", action="version", version=f"lorajam {package_version('lorajam')}")
    sub = parser.add_subparsers(dest="command", required=True)
    doctor = sub.add_parser("doctor", help="show versions, device, precision, Hub access and fixes")
    doctor.add_argument("--no-hub", action="store_true", help="skip the Hub reachability check")
    doctor.add_argument("--hub-timeout", type=float, default=1.5, help="seconds to wait for the Hub (default 1.5)")
    doctor.set_defaults(func=cmd_doctor)
    badges = sub.add_parser("badges", help="rewrite Colab badges/install URLs from [tool.lorajam] in pyproject")
    badges.set_defaults(func=cmd_badges)
    sub.add_parser("release", help="generate student notebooks from solutions/ (instructors)", add_help=False)
    sub.add_parser("grade", help="grade submissions safely and in parallel (instructors)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("release", "grade"):
        return _instructor(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
