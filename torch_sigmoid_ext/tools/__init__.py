"""The command-line tools: compare, benchmark and the accuracy sweep, run as
`python -m torch_sigmoid_ext <command>`. The runtime package imports nothing from here, so
`import torch_sigmoid_ext` needs none of their dependencies (numpy, tqdm, matplotlib)."""
