"""Videos of a policy: an MP4 of every evaluation episode and a small GIF of the best one (for READMEs).

Episodes are played exactly as `gailrun.run.evaluate.evaluate` plays them: the same per-env quotas, env i
reset with seed + i and then left to continue its own random stream, so with deterministic actions the returns
here equal those in eval.json, episode for episode. One env is rendered at a time (`render_mode=
"rgb_array"`), frames stream into the MP4 as they come, and only the current and the best episode are kept
in memory, already downscaled for the GIF.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from gailrun.config.schema import FinalEval
from gailrun.envs.make import resolve_env_id
from gailrun.errors import GailrunError
from gailrun.models.policy import Policy
from gailrun.run.evaluate import episode_quotas


@dataclass
class VideoResult:
    mp4: Path  # every episode, in evaluation order
    gif: Path  # the best episode (highest return), downscaled and subsampled
    returns: list[float]
    lengths: list[int]
    best_episode: int  # index into returns
    mp4_frames: int  # reset frame + one per step, for every episode
    gif_frames: int  # as stored (identical consecutive frames merged)
    fps: int  # of the MP4


def _open_mp4(path: Path, fps: int) -> Any:
    """imageio's ffmpeg writer (it has no public type), imported lazily with an actionable error."""
    try:
        import imageio.v2 as imageio
    except ImportError as exc:
        raise GailrunError(
            "videos need imageio and imageio-ffmpeg: pip install 'imageio>=2.31' 'imageio-ffmpeg>=0.5'"
        ) from exc
    return imageio.get_writer(
        str(path),
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        macro_block_size=2,  # yuv420p needs even sizes; the Gymnasium renderers' 600x400 needs no resize
        ffmpeg_log_level="error",
    )


def _shrink(frame: np.ndarray, width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if w <= width:
        return frame
    size = (width, max(1, round(h * width / w)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))


def _annotate(frame: np.ndarray, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> np.ndarray:
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = draw.textbbox((6, 4), text, font=font)
    draw.rectangle((x0 - 3, y0 - 2, x1 + 3, y1 + 2), fill=(255, 255, 255))
    draw.text((6, 4), text, fill=(0, 0, 0), font=font)
    return np.asarray(img)


def write_gif(path: Path, frames: list[np.ndarray], frame_ms: float, max_frames: int) -> int:
    """Write `frames` as a looping GIF, dropping frames evenly beyond `max_frames`.

    Returns the frames in the file: Pillow merges identical consecutive frames (lengthening their delay).
    """
    stride = max(1, math.ceil(len(frames) / max_frames))
    kept = frames[::stride]
    if kept and kept[-1] is not frames[-1]:
        kept.append(frames[-1])  # always show how the episode ended
    images = [Image.fromarray(f) for f in kept]
    # GIF delays are in hundredths of a second; 20 ms is the shortest most viewers honour.
    duration = max(20, round(frame_ms * stride / 10.0) * 10)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=True)
    with Image.open(path) as gif:
        return int(getattr(gif, "n_frames", 1))


def record_video(
    policy: Policy,
    episodes: int,
    seed: int,
    deterministic: bool,
    out_dir: Path | str,
    fps: int | None = None,
    *,
    stem: str = "eval",
    num_envs: int = FinalEval.num_envs,
    env_id: str | None = None,
    max_episode_steps: int | None = None,
    gif_width: int = 320,
    gif_fps: int = 25,
    gif_max_frames: int = 300,
    annotate: bool = True,
) -> VideoResult:
    """Play `episodes` episodes and write `<out_dir>/<stem>.mp4` (all) and `<stem>_best.gif` (the best).

    `num_envs`, `seed`, `env_id` and `max_episode_steps` mean what they mean for `evaluate`, so that the
    recorded episodes are the evaluated ones. `fps` defaults to the env's `render_fps`. The GIF keeps
    every k-th frame (k = round(fps / gif_fps)), at most `gif_max_frames`, `gif_width` pixels wide. With
    `annotate`, MP4 frames show the episode number, step and return so far.
    """
    if episodes < 1:
        raise GailrunError(f"record_video needs at least one episode, got {episodes}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env_id = resolve_env_id(env_id or policy.env_id)
    kwargs: dict = {"render_mode": "rgb_array", "disable_env_checker": True}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = int(max_episode_steps)
    mp4_path, gif_path = out / f"{stem}.mp4", out / f"{stem}_best.gif"
    returns: list[float] = []
    lengths: list[int] = []
    best: list[np.ndarray] = []
    mp4_frames = 0
    font = ImageFont.load_default(size=16)
    generator = torch.Generator().manual_seed(seed)
    quotas = episode_quotas(episodes, max(1, min(num_envs, episodes)))
    with contextlib.closing(gym.make(env_id, **kwargs)) as env:
        fps = int(fps or env.metadata.get("render_fps") or 30)
        stride = max(1, round(fps / gif_fps))
        writer = _open_mp4(mp4_path, fps)
        try:
            for i, quota in enumerate(quotas):
                obs, _ = env.reset(seed=seed + i)
                for q in range(int(quota)):
                    if q:
                        obs, _ = env.reset()
                    ep, ret, t, gif = len(returns) + 1, 0.0, 0, []
                    done = False
                    while True:
                        frame = np.asarray(env.render())
                        if t % stride == 0 or done:
                            gif.append(_shrink(frame, gif_width))
                        label = f"episode {ep}/{episodes}  step {t}  return {ret:.1f}"
                        writer.append_data(_annotate(frame, label, font) if annotate else frame)
                        mp4_frames += 1
                        if done:
                            break
                        action = policy.act(obs[None], deterministic=deterministic, generator=generator)
                        obs, reward, term, trunc, _ = env.step(int(action[0]))
                        ret += float(reward)
                        t += 1
                        done = bool(term or trunc)
                    returns.append(ret)
                    lengths.append(t)
                    if ret > max(returns[:-1], default=-math.inf):
                        best = gif
        finally:
            writer.close()
    best_episode = int(np.argmax(returns))
    gif_frames = write_gif(gif_path, best, 1000.0 * stride / fps, gif_max_frames)
    return VideoResult(mp4_path, gif_path, returns, lengths, best_episode, mp4_frames, gif_frames, fps)
