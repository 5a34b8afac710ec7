"""Swap torch_sigmoid_ext into a model and train it: python examples/quickstart.py"""

import torch
from torch import nn

import torch_sigmoid_ext as tse

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(2, 16), nn.Sigmoid(), nn.Linear(16, 1), nn.Sigmoid())
tse.replace_sigmoid(model)  # every nn.Sigmoid becomes torch_sigmoid_ext.Sigmoid
print(model)

x = torch.randn(256, 2)
target = ((x[:, 0] * x[:, 1]) > 0).float().unsqueeze(1)
opt = torch.optim.Adam(model.parameters(), lr=0.05)
for step in range(200):
    opt.zero_grad()
    loss = nn.functional.binary_cross_entropy(model(x), target)
    loss.backward()
    opt.step()
accuracy = ((model(x) > 0.5).float() == target).float().mean().item()
print(f"loss {loss.item():.4f}, accuracy {accuracy:.1%}")
print(tse.build_info())
