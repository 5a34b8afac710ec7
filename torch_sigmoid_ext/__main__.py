"""python -m torch_sigmoid_ext [command] [options]; the command defaults to compare."""

import importlib
import sys

COMMANDS = {
    "compare": ("compare", "accuracy, gradients and speed against torch.sigmoid (quick)"),
    "benchmark": ("benchmark", "the full speed grid against torch.sigmoid, to CSV and PNG"),
    "accuracy": ("accuracy", "the exhaustive accuracy sweep against torch.sigmoid, to JSON"),
}


def _usage():
    lines = ["usage: python -m torch_sigmoid_ext [command] [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "With no command, runs compare. `COMMAND --help` shows a command's options."]
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name = argv.pop(0) if argv and not argv[0].startswith("-") else "compare"
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"torch_sigmoid_ext.tools.{COMMANDS[name][0]}")
    return module.main(argv)


if __name__ == "__main__":
    sys.exit(main())
