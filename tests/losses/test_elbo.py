"""The negative ELBO and the importance-weighted bound against torch.distributions and hand computations."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import ContinuousBernoulli, Normal, kl_divergence

from src.losses import NegativeELBO, gaussian_kl, importance_weighted_nll
from src.models import VAE, VAEMLP, VAEOutput


def test_closed_form_kl_matches_torch_distributions() -> None:
    generator = torch.Generator().manual_seed(0)
    mean = 3 * torch.randn(64, 7, generator=generator)
    log_var = 4 * torch.randn(64, 7, generator=generator)
    expected = kl_divergence(Normal(mean, (0.5 * log_var).exp()), Normal(0.0, 1.0))
    torch.testing.assert_close(gaussian_kl(mean, log_var), expected, rtol=1e-5, atol=1e-5)
    assert gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 2)).abs().max() == 0  # the prior itself: no nats


def test_reparameterised_draws_have_the_posteriors_mean_and_variance_and_carry_gradients() -> None:
    torch.manual_seed(0)
    mean = torch.tensor([[-2.0, 0.5, 3.0]], requires_grad=True)
    log_var = torch.tensor([[-1.0, 0.0, 1.5]], requires_grad=True)
    z = VAE.sample(mean.expand(200_000, 3), log_var.expand(200_000, 3))
    torch.testing.assert_close(z.mean(0), mean[0].detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), log_var[0].detach().exp(), atol=0, rtol=0.02)
    z.sum().backward()
    assert mean.grad is not None and log_var.grad is not None and log_var.grad.abs().sum() > 0


def _output(params: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> VAEOutput:
    return VAEOutput(params, mean, log_var, mean)


def test_elbo_sums_over_pixels_and_latents_and_averages_over_images() -> None:
    # Two images of 2 x 2 binary pixels, logits 0 everywhere but one pixel; a 1-D latent.
    images = torch.tensor([[[[1.0, 0.0], [1.0, 1.0]]], [[[0.0, 0.0], [0.0, 1.0]]]])
    params = torch.zeros(2, 1, 2, 2)
    params[0, 0, 0, 0] = 2.0  # image 0's first pixel is 1: -log sigmoid(2)
    mean, log_var = torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [math.log(2.0)]])
    rec = [-math.log(1 / (1 + math.exp(-2.0))) + 3 * math.log(2), 4 * math.log(2)]
    kl = [0.5 * 1.0, 0.5 * (2.0 - 1 - math.log(2.0))]
    hand = sum(r + k for r, k in zip(rec, kl, strict=True)) / 2
    loss = NegativeELBO()(_output(params, mean, log_var), images)
    assert loss.item() == pytest.approx(hand, rel=1e-6)
    # The usual mistake, a mean over pixels, would report a quarter of the reconstruction term.
    mean_over_pixels = F.binary_cross_entropy_with_logits(params, images) + sum(kl) / 2
    assert loss.item() > 2 * mean_over_pixels.item()


def test_gaussian_and_continuous_bernoulli_likelihoods_are_the_distributions_log_densities() -> None:
    generator = torch.Generator().manual_seed(0)
    images, params = torch.rand(3, 2, 4, 4, generator=generator), torch.randn(3, 2, 4, 4, generator=generator)
    gaussian = NegativeELBO("gaussian", std=0.2).log_likelihood(params, images)
    torch.testing.assert_close(gaussian, Normal(params, 0.2).log_prob(images).sum((1, 2, 3)))
    continuous = NegativeELBO("continuous_bernoulli").log_likelihood(params, images)
    torch.testing.assert_close(continuous, ContinuousBernoulli(logits=params).log_prob(images).sum((1, 2, 3)))
    learnt = NegativeELBO("gaussian", learn_std=True)
    assert [name for name, p in learnt.named_parameters() if p.requires_grad] == ["log_std"]


def test_beta_warmup_weight_and_free_bits_shape_only_the_objectives_kl() -> None:
    images, params = torch.ones(4, 1, 2, 2), torch.zeros(4, 1, 2, 2)
    mean = torch.tensor([[0.1, 2.0]]).repeat(4, 1).requires_grad_()
    log_var = torch.zeros(4, 2)
    plain = NegativeELBO()(_output(params, mean, log_var), images)
    kl = gaussian_kl(mean, log_var).sum(1).mean()
    beta = NegativeELBO(beta=4.0)
    beta.kl_weight = 0.5
    assert beta(_output(params, mean, log_var), images).item() == pytest.approx(plain.item() + kl.item(), rel=1e-6)
    free = NegativeELBO(free_bits=0.5)  # dimension 0 has 0.005 nats: held at 0.5, and no gradient pushes it
    objective = free(_output(params, mean, log_var), images)
    assert objective.item() == pytest.approx(plain.item() - 0.005 + 0.5, rel=1e-6)
    objective.backward()
    assert mean.grad[:, 0].abs().max() == 0 and mean.grad[:, 1].abs().min() > 0
    assert free.last_terms["kl"].item() == pytest.approx(kl.item())  # logged: the true KL


def test_the_elbo_refuses_plain_logits() -> None:
    with pytest.raises(ValueError, match="scores a VAE's output"):
        NegativeELBO()(torch.zeros(2, 10), torch.zeros(2, dtype=torch.long))


@torch.no_grad()
def test_iw_bound_with_one_sample_is_the_elbo_estimate_and_tightens_with_more() -> None:
    torch.manual_seed(0)
    net, loss = VAEMLP(1, (4, 4), 10, latent_size=3, hidden_sizes=[16]), NegativeELBO()
    images = torch.rand(64, 1, 4, 4).bernoulli()
    # k = 1: one draw z ~ q, -(log p(x|z) + log p(z) - log q(z|x)), the single-sample ELBO estimate.
    torch.manual_seed(1)
    one = importance_weighted_nll(net, loss, images, None, samples=1)
    torch.manual_seed(1)
    mean, log_var = net.encode(images)
    z = mean + (0.5 * log_var).exp() * torch.randn(1, *mean.shape)[0]
    posterior, prior = Normal(mean, (0.5 * log_var).exp()), Normal(0.0, 1.0)
    estimate = -loss.log_likelihood(net.decode(z), images) + (posterior.log_prob(z) - prior.log_prob(z)).sum(1)
    torch.testing.assert_close(one, estimate, rtol=1e-5, atol=1e-4)
    # Its mean over draws is the negative ELBO (analytic KL); more samples tighten the bound on average.
    reconstruction, kl = loss.terms(net(images.repeat(200, 1, 1, 1)), images.repeat(200, 1, 1, 1))
    nelbo = (reconstruction + kl.sum(1)).mean()
    bounds = {k: importance_weighted_nll(net, loss, images.repeat(20, 1, 1, 1), None, k).mean() for k in (1, 10, 100)}
    assert bounds[1].item() == pytest.approx(nelbo.item(), abs=0.05)
    assert bounds[1] > bounds[10] > bounds[100]
