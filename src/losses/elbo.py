"""The negative ELBO of a VAE, in nats per image, and the importance-weighted bound on -log p(x).

Both are sums over pixels and latent dimensions and means over images: a mean over pixels would shrink the
reconstruction term 784-fold against the KL (or, if both are averaged, report a figure no paper compares).
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import ContinuousBernoulli

from src.losses._shapes import check_choice
from src.losses.functional import gaussian_kl

LIKELIHOODS = ("bernoulli", "gaussian", "continuous_bernoulli")
LOG_2PI = math.log(2 * math.pi)


class Posterior(Protocol):
    """What a VAE's forward returns (src.models.VAEOutput), as far as the ELBO reads it: B images, L latents."""

    params: Tensor  # (B, C, H, W), the likelihood's parameter per pixel
    mean: Tensor  # (B, L)
    log_var: Tensor  # (B, L)


class LatentModel(Protocol):
    """What the importance-weighted bound needs of a VAE (src.models.VAE)."""

    def encode(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]: ...

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor: ...


class NegativeELBO(nn.Module):
    """-ELBO = E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I)), each summed over pixels and latent dimensions,
    averaged over images: nats per image.

    likelihood (the decoder's parameter per pixel):
    - "bernoulli": logits; -log p(x|z) is the BCE with logits against binary pixels (dynamically binarised
      data: data=fashion_mnist_binarized).
    - "gaussian": means; (x - mu)^2 / (2 std^2) + log std + log(2 pi) / 2 per pixel, the MSE with its constant.
      `std` fixed, or learnt as one parameter per run with `learn_std` (it joins the optimiser through the task).
    - "continuous_bernoulli": logits of torch.distributions.ContinuousBernoulli, for grey levels in [0, 1]
      (Loaiza-Ganem and Cunningham, 2019).

    beta: the KL's weight (beta-VAE). free_bits: nats per latent dimension below which the batch's mean KL of
    that dimension is not pushed down (Kingma et al. 2016): the objective takes max(free_bits, KL_j) per
    dimension j, so units are not switched off early. `kl_weight` (set by the task's warm-up, 1 otherwise)
    scales the KL term of the objective on top of beta. `last_terms`: the latest reconstruction and the true KL
    (no beta, warm-up nor free bits), each in nats per image, for logging.
    """

    def __init__(
        self,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        free_bits: float = 0.0,
        std: float = 0.1,
        learn_std: bool = False,
    ) -> None:
        super().__init__()
        check_choice(likelihood, LIKELIHOODS, "likelihood", "NegativeELBO")
        if not beta >= 0 or not free_bits >= 0 or not std > 0:
            raise ValueError(
                f"NegativeELBO: need beta >= 0, free_bits >= 0 and std > 0, got beta={beta}, free_bits={free_bits}, "
                f"std={std}"
            )
        self.likelihood = likelihood
        self.beta = beta
        self.free_bits = free_bits
        self.log_std = nn.Parameter(torch.tensor(math.log(std)), requires_grad=learn_std)
        self.kl_weight = 1.0
        self.last_terms: dict[str, Tensor] = {}

    @property
    def needs_binary_pixels(self) -> bool:
        return self.likelihood == "bernoulli"

    def log_likelihood(self, params: Tensor, images: Tensor) -> Tensor:
        """log p(x|z) per image: params and images (B, C, H, W) -> (B,), summed over pixels."""
        if self.likelihood == "bernoulli":
            log_p = -F.binary_cross_entropy_with_logits(params, images, reduction="none")
        elif self.likelihood == "gaussian":
            log_p = -0.5 * ((images - params) / self.log_std.exp()).square() - self.log_std - 0.5 * LOG_2PI
        else:
            log_p = ContinuousBernoulli(logits=params, validate_args=False).log_prob(images)
        return log_p.flatten(1).sum(1)

    def pixel_means(self, params: Tensor) -> Tensor:
        """The likelihood's mean image E[x|z]: params (B, C, H, W) -> (B, C, H, W) in [0, 1], for pictures."""
        if self.likelihood == "bernoulli":
            return params.sigmoid()
        if self.likelihood == "gaussian":
            return params.clamp(0, 1)
        return ContinuousBernoulli(logits=params, validate_args=False).mean

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Images drawn from p(x|z): binary draws for bernoulli; the mean image for the continuous likelihoods,
        whose per-pixel noise samples usually leave out. params (B, C, H, W) -> (B, C, H, W) in [0, 1]."""
        means = self.pixel_means(params)
        return torch.bernoulli(means, generator=generator) if self.likelihood == "bernoulli" else means

    def terms(self, output: Posterior, images: Tensor) -> tuple[Tensor, Tensor]:
        """-> the reconstruction term -log p(x|z) (B,) and the KL per latent dimension (B, L), in nats."""
        if not all(isinstance(getattr(output, key, None), Tensor) for key in ("params", "mean", "log_var")):
            raise ValueError(
                f"the ELBO scores a VAE's output (params, mean, log_var, z), got {type(output).__name__}; "
                "use model=vae_mlp or model=vae_conv with a generative data config (data=fashion_mnist_binarized)"
            )
        if output.params.shape != images.shape:
            raise ValueError(f"the decoder outputs {tuple(output.params.shape)} for images {tuple(images.shape)}")
        return -self.log_likelihood(output.params, images), gaussian_kl(output.mean, output.log_var)

    def forward(self, output: Posterior, images: Tensor) -> Tensor:
        """output of a VAE for images (B, C, H, W) in [0, 1] -> the training objective, a scalar in nats/image."""
        return self.objective(*self.terms(output, images))

    def objective(self, reconstruction: Tensor, kl: Tensor) -> Tensor:
        """The terms (B,) and (B, L) -> mean reconstruction + beta * kl_weight * KL summed over dimensions (each
        dimension's batch mean held at `free_bits` or above)."""
        self.last_terms = {"reconstruction": reconstruction.mean().detach(), "kl": kl.sum(1).mean().detach()}
        kl_per_dim = kl.mean(0)
        if self.free_bits:
            kl_per_dim = kl_per_dim.clamp_min(self.free_bits)  # no gradient below the allowance
        return reconstruction.mean() + self.beta * self.kl_weight * kl_per_dim.sum()

    def extra_repr(self) -> str:
        return f"likelihood={self.likelihood!r}, beta={self.beta}, free_bits={self.free_bits}"


def log_importance_weights(
    net: LatentModel, loss: NegativeELBO, images: Tensor, labels: Tensor | None, samples: int
) -> Tensor:
    """log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x) for z_s ~ q(z|x): images (B, C, H, W) -> (samples, B)."""
    mean, log_var = net.encode(images, labels)
    eps = torch.randn(samples, *mean.shape, device=mean.device, dtype=mean.dtype)  # (S, B, L)
    z = mean + (0.5 * log_var).exp() * eps
    log_q = -0.5 * (eps.square() + log_var + LOG_2PI).sum(-1)
    log_prior = -0.5 * (z.square() + LOG_2PI).sum(-1)
    repeated = labels.repeat(samples) if labels is not None else None
    params = net.decode(z.flatten(0, 1), repeated)
    log_p = loss.log_likelihood(params, images.repeat(samples, 1, 1, 1)).view(samples, -1)
    return log_p + log_prior - log_q


def importance_weighted_nll(
    net: LatentModel, loss: NegativeELBO, images: Tensor, labels: Tensor | None, samples: int, chunk: int = 50
) -> Tensor:
    """The IWAE bound -log p(x) <= -(logsumexp_s log w_s - log k) with k = `samples` per image (B,), in nats.

    Decodes `chunk` samples per image at a time (memory: chunk * B images). k = 1 is the single-sample ELBO
    estimate; the bound tightens (on average, never loosens) as k grows (Burda et al. 2016).
    """
    log_w = torch.cat(
        [
            log_importance_weights(net, loss, images, labels, min(chunk, samples - start))
            for start in range(0, samples, chunk)
        ]
    )
    return -(torch.logsumexp(log_w, dim=0) - math.log(samples))
