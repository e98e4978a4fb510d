"""GAIL's reward: the reward forms as functions of the discriminator's logit, and absorbing states.

Internally D outputs the log-odds that (s, a) is the expert's: D = sigmoid(logit) = P(expert). The reward
forms, as functions of that D:
- `neg_log_learner`: -log D_learner with expert = 0 / learner = 1, the LunarLander study's form. Since
  D_learner = 1 - D, it is -log(1 - D): the same reward as `gan`, kept as its own name for the study.
- `gan`: -log(1 - D) (expert = 1), the usual GAN form. Always positive: a survival bonus.
- `prob`: D itself, the CartPole study's form. Always positive: a survival bonus.
- `airl`: log D - log(1 - D), the logit (AIRL-style). Zero where D cannot tell, either sign otherwise.
A sign-fixed reward pays the agent for episode length itself (positive forms: for surviving; a negative
form: for ending early), whatever it imitates. Absorbing states remove that bias as in Kostrikov et al.
(2019, "Discriminator-Actor-Critic"): a terminated episode continues in an absorbing state that D also
scores, so its return includes D's verdict on the absorbing state forever, not zero. `absorbing`:
- `none`: termination is worth 0 (plain GAIL);
- `dac`: one absorbing state for every termination, as in DAC. Where the expert also terminates (a
  LunarLander landing) it cannot tell a landing from a crash;
- `final`: the absorbing state keeps the terminal observation (an absorbing state per way of ending), so D
  judges how an episode ended: at rest on the pad like the expert, or crashed.
The hook returns the absorbing state's per-step reward r_abs beside the per-step rewards, not folded into
the terminal row: reward scaling and clipping (`reward_std`, `reward_clip`) act on r_abs as on any step's
reward, as DAC's absorbing transitions are, and only then is its discounted sum gamma * r_abs / (1 - gamma)
added (`with_absorbing_value`). Clipping the folded sum would squash the absorbing state's value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gailrun.errors import GailrunError

REWARD_FORMS = ("neg_log_learner", "gan", "prob", "airl")
ABSORBING_MODES = ("none", "dac", "final")


def reward_from_logits(logits: torch.Tensor, form: str) -> torch.Tensor:
    """D's reward for each logit = log P(expert) - log P(learner); monotone increasing in D for every form."""
    if form in ("gan", "neg_log_learner"):
        return -F.logsigmoid(-logits)  # -log(1 - D), computed stably
    if form == "prob":
        return torch.sigmoid(logits)
    if form == "airl":
        return logits
    raise GailrunError(f"algo.reward_form={form!r} is unknown; choose one of {', '.join(REWARD_FORMS)}")


def absorbing_mode(value: object) -> str:
    """Config value -> mode; booleans are accepted (true = DAC's single absorbing state). The one check of
    `algo.absorbing`: `GailSettings` applies it, and the discriminator takes the settings' checked mode."""
    if isinstance(value, bool):
        return "dac" if value else "none"
    mode = str(value)
    if mode not in ABSORBING_MODES:
        raise GailrunError(f"algo.absorbing={mode!r} is unknown; choose one of {', '.join(ABSORBING_MODES)}")
    return mode
