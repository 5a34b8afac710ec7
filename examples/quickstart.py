"""Swap torch_sigmoid_ext into a model and train it: replace_sigmoid turns every nn.Sigmoid of a
small MLP into torch_sigmoid_ext.Sigmoid, and the model trains as it did before.

    python examples/quickstart.py [--steps N] [--seed S]

Prints the converted model, its final loss and accuracy, and how the extension was built.
"""


import torch
from torch import nn

import torch_sigmoid_ext as tse
from _args import parser, positive_int


p = parser(__doc__)
p.add_argument("--steps", type=positive_int, default=200, metavar="N",
               help="full-batch Adam steps")
p.add_argument("--seed", type=int, default=0, help="seed for the weights and the data")
args = p.parse_args()

torch.manual_seed(args.seed)
model = nn.Sequential(nn.Linear(2, 16), nn.Sigmoid(), nn.Linear(16, 1), nn.Sigmoid())
tse.replace_sigmoid(model)  # every nn.Sigmoid becomes torch_sigmoid_ext.Sigmoid
print(model)

# Label: same sign of both coordinates (XOR of the quadrants), which a linear model cannot fit.
x = torch.randn(256, 2)
target = ((x[:, 0] * x[:, 1]) > 0).float().unsqueeze(1)
opt = torch.optim.Adam(model.parameters(), lr=0.05)
for step in range(args.steps):
    opt.zero_grad()
    loss = nn.functional.binary_cross_entropy(model(x), target)
    loss.backward()
    opt.step()
accuracy = ((model(x) > 0.5).float() == target).float().mean().item()
print(f"loss {loss.item():.4f}, accuracy {accuracy:.1%}")
print(tse.build_info())
