"""python -m torch_sigmoid_ext [command] [options]: the command-line tools, compare (the
default), benchmark and accuracy. They live in torch_sigmoid_ext.tools and are imported only
here, when a command runs, so that `import torch_sigmoid_ext` needs none of their dependencies."""

import sys


def main(argv=None):
    from torch_sigmoid_ext.tools._cli import main as tools_main

    return tools_main(argv)


if __name__ == "__main__":
    sys.exit(main())
